// Starts Swagger UI on /docs. A same-origin file rather than an inline script, so that the page's
// Content-Security-Policy can forbid inline scripts; the page names the OpenAPI document in data-openapi-url.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // The default would send the API description to validator.swagger.io for a badge: nothing leaves the origin.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]
  });
})();
