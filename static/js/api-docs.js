// Starts Swagger UI on /api/docs/ (templates/api_docs.html). A file rather than
// ninja's inline-free default so the settings stay ours: no online validator
// badge (an image from another host, which the CSP refuses).
(function () {
  "use strict";

  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    domNode: root,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    validatorUrl: null,
  });
})();
