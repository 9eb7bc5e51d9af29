// Live updates on the task page: poll the feed for new comments and run states, so the
// bot's reply appears without reloading. Polling works behind any proxy and any WSGI server.
(function () {
  "use strict";
  var thread = document.getElementById("thread");
  if (!thread) return;
  var feedUrl = thread.dataset.feed;
  var last = parseInt(thread.dataset.last || "0", 10);
  var pending = document.getElementById("pending");
  var pendingText = document.getElementById("pending-text");
  var runs = document.getElementById("runs");
  var delay = 1000;

  function tick() {
    fetch(feedUrl + "?after=" + last, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        data.comments.forEach(function (c) {
          if (document.getElementById("c" + c.id)) return;
          var tpl = document.createElement("template");
          tpl.innerHTML = c.html.trim();  // server-rendered and sanitised
          thread.appendChild(tpl.content.firstChild);
          last = Math.max(last, c.id);
        });
        pending.hidden = data.pending === 0;
        pendingText.textContent = data.pending + " automation request" + (data.pending === 1 ? "" : "s") + " pending…";
        runs.innerHTML = data.runs_html;
        delay = data.pending ? 1000 : 4000;
      })
      .catch(function () { delay = Math.min(delay * 2, 30000); })
      .finally(function () { setTimeout(tick, delay); });
  }
  setTimeout(tick, 1000);
})();
