// MathJax 3 for the pages (pymdownx.arithmatex wraps their math in .arithmatex) and for the
// tutorial notebook's Markdown cells (plain $...$ inside .jp-MarkdownOutput, in <p>, <li>...).
// Only those elements are typeset, with everything inside them: a "$" elsewhere on a page
// stays text. MathJax itself is shipped with the site (docs/_hooks/mathjax.py).
const MATH = ".arithmatex, .jp-MarkdownOutput";

window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true,
  },
  startup: {
    typeset: false, // the page's math is typeset below, not the whole document
  },
};

document$.subscribe(() => {
  if (window.MathJax && MathJax.typesetPromise) {
    MathJax.typesetPromise(Array.from(document.querySelectorAll(MATH)));
  }
});
