// Development builds only (`make devserver`): reload the page when the server
// announces a finished rebuild on its Server-Sent Events stream.
(function () {
  "use strict";
  if (!window.EventSource) {
    return;
  }
  var source = new EventSource("/__livereload");
  source.addEventListener("reload", function () {
    source.close();
    window.location.reload();
  });
})();
