// Draws the charts of posgraph's overview pages. Each <script type="application/json" class="vega-spec"
// data-target="#id"> holds a Vega-Lite spec; its target already shows the server's SVG picture, which stays when
// anything here fails (no Vega files, an old browser). Expressions run through Vega's interpreter, so the page's
// Content-Security-Policy needs no 'unsafe-eval'.
(function () {
  "use strict";

  function draw(block) {
    var target = document.querySelector(block.getAttribute("data-target"));
    if (!target || typeof window.vegaEmbed !== "function") return;
    var spec;
    try {
      spec = JSON.parse(block.textContent);
    } catch (err) {
      console.warn("posgraph: unreadable chart spec", err);
      return;
    }
    var options = { renderer: "svg", actions: false };
    if (window.vegaInterpreter && window.vegaInterpreter.expressionInterpreter) {
      options.ast = true;
      options.expr = window.vegaInterpreter.expressionInterpreter;
    } else {
      return; // without the interpreter Vega would need eval, which the page forbids: keep the picture
    }
    var picture = target.innerHTML;
    window.vegaEmbed(target, spec, options).then(function (result) {
      target.setAttribute("data-rendered", "vega");
    }).catch(function (err) {
      console.warn("posgraph: chart not drawn, keeping the picture", err);
      target.innerHTML = picture;
    });
  }

  function start() {
    var blocks = document.querySelectorAll('script[type="application/json"].vega-spec');
    for (var i = 0; i < blocks.length; i++) draw(blocks[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
