// The query page's script: YASGUI when it is installed, otherwise the plain form with the saved queries as
// examples. A same-origin file, not an inline script, so that the page's Content-Security-Policy can forbid those.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("posgraph-config").textContent);
  var form = document.getElementById("fallback");
  if (window.Yasgui) {
    form.hidden = true;
    var yasgui = new Yasgui(document.getElementById("yasgui"), {
      requestConfig: { endpoint: config.endpoint, method: "POST" },
      copyEndpointOnNewTab: true,
      populateFromUrl: true,            // shareable links: ?query=…&endpoint=… open as a tab
      persistenceId: "posgraph-yasgui",
      // Only the local autocompleter: the others call third-party web services from the browser.
      yasqe: { value: config.welcome, autocompleters: ["variables"] }
    });
    // The saved queries open as example tabs (once per browser; the user's own tabs persist).
    if (!window.localStorage || !localStorage.getItem("posgraph-examples-added")) {
      config.queries.forEach(function (q) {
        yasgui.addTab(false, { name: q.name, yasqe: { value: q.example } });
      });
      try { localStorage.setItem("posgraph-examples-added", "1"); } catch (e) {}
    }
  } else {
    var select = document.getElementById("examples");
    var text = document.getElementById("query");
    select.addEventListener("change", function () {
      text.value = select.value === "" ? config.welcome : config.queries[select.value].example;
    });
  }
})();
