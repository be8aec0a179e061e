// MathJax 3 settings for the pages' LaTeX, which pymdownx.arithmatex (generic mode) wraps as
// \( ... \) and \[ ... \] inside elements of class "arithmatex". Only those elements are typeset,
// so a dollar sign elsewhere on a page stays a dollar sign. The component itself is shipped into
// the site at build time (docs/hooks/mathjax.py); nothing is loaded from the network.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    tags: "ams",
    packages: {"[-]": ["noundefined"]},   // an unknown macro is an error (the docs test catches it)
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
  chtml: {
    fontURL: new URL("../assets/mathjax/output/chtml/fonts/woff-v2", document.currentScript.src).href,
  },
};
