// Starts Swagger UI on the element #swagger-ui, reading the OpenAPI document's URL
// from its data-openapi-url attribute. validatorUrl: null keeps Swagger UI from
// sending the document to an online validator (the page must work offline).
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
