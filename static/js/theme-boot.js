// Runs before first paint (classic script) so a remembered theme never flashes the default one.
(function () {
  try {
    var t = localStorage.getItem("echonest.theme");
    if (t && /^[a-z]+$/.test(t)) document.documentElement.setAttribute("data-theme", t);
  } catch (e) {
    /* storage blocked: default theme */
  }
})();
