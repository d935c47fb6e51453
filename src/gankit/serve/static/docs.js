// Swagger UI for the explorer's API, from the bundled assets (no CDN, no inline script).
"use strict";
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
