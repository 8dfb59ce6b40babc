// The desk calendar works without this: it only scrolls "now" into view.
document.addEventListener("DOMContentLoaded", function () {
  var now = document.getElementById("now");
  if (now && !location.hash) { now.scrollIntoView({block: "center", inline: "nearest"}); window.scrollTo(0, 0); }
});
