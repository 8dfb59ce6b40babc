// Moving an appointment on the desk calendar: drag it, or select it and press M
// (docs/frontdesk.md, "Moving a visit"). Progressive enhancement only: without
// this file the calendar is the same and the appointment's page has the move
// form. With it, a drop (or Enter) posts that same form to the appointment's
// /move/ URL, with time_of=appointment; the server's booking engine decides. A
// move the server makes reloads the calendar (its "Moved to ..." is shown there);
// a refusal shows the server's sentence and leaves the block where it was.
//
// The drop target is placed with grid.css's classes (gc-, gr-, rs-), like every
// block: the Content-Security-Policy allows no inline styles.
(function () {
  "use strict";

  var grid, form, live, notice, scroller, columns;
  var first, last, slot, rowMinutes, headerRows;
  var moving = null; // the move under way: see start()
  var pending = null; // a pointer pressed on a block, not yet dragged far enough
  var swallowClick = false; // the click that ends a drag must not open the link
  var DRAG_THRESHOLD = 5; // pixels: less is a click
  var REMEMBER = "chairtime.desk.moved"; // the block to focus once the page reloads

  function classNumber(element, prefix) {
    var found = element.className.match(new RegExp("(?:^|\\s)" + prefix + "-(\\d+)(?:\\s|$)"));
    return found ? Number(found[1]) : null;
  }

  function setClassNumber(element, prefix, value) {
    element.className = element.className.replace(new RegExp("(^|\\s)" + prefix + "-\\d+(?=\\s|$)"), "$1" + prefix + "-" + value);
  }

  function columnAt(index) {
    for (var i = 0; i < columns.length; i++) if (columns[i].index === index) return columns[i];
    return null;
  }

  function rowOf(minute) { return headerRows + 1 + (minute - first) / rowMinutes; }
  function minuteOf(row) { return first + (row - headerRows - 1) * rowMinutes; }

  // The page's language: its words from the desk's JavaScript catalog (Django's
  // JavaScriptCatalog, loaded before this file), its clock from the same
  // TIME_FORMAT the server writes times with ("g:i A" in English, "H:i" in French).
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (format, values) {
    return format.replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  };
  function say(format, values) { return interpolate(format, values, true); }
  var timeFormat = (window.get_format && window.get_format("TIME_FORMAT")) || "g:i A";

  function pad(number) { return (number < 10 ? "0" : "") + number; }

  function clock(minute) {
    var hour = Math.floor(minute / 60) % 24;
    var parts = {
      g: String(hour % 12 || 12), h: pad(hour % 12 || 12), G: String(hour), H: pad(hour),
      i: pad(minute % 60), A: hour < 12 ? "AM" : "PM", // only English's format has A
    };
    var out = "";
    for (var i = 0; i < timeFormat.length; i++) {
      var c = timeFormat.charAt(i);
      if (c === "\\") { out += timeFormat.charAt(++i); continue; }
      out += Object.prototype.hasOwnProperty.call(parts, c) ? parts[c] : c;
    }
    return out;
  }

  function hhmm(minute) {
    var hour = String(Math.floor(minute / 60) % 24);
    var minutes = String(minute % 60);
    return (hour.length < 2 ? "0" : "") + hour + ":" + (minutes.length < 2 ? "0" : "") + minutes;
  }

  function where(column, minute) {
    var day = grid.classList.contains("cal--week") ? ", " + column.dayLabel : "";
    return column.name + day + ", " + clock(minute);
  }

  function announce(text) { live.textContent = text; }

  function nonce() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  function start(block, how) {
    var column = columnAt(classNumber(block, "gc"));
    if (!column) return false;
    var span = classNumber(block, "rs");
    var minute = minuteOf(classNumber(block, "gr"));
    var ghost = document.createElement("div");
    ghost.className = "blk blk--target gc-" + column.index + " gr-" + rowOf(minute) + " rs-" + span;
    ghost.setAttribute("aria-hidden", "true");
    grid.appendChild(ghost);
    block.classList.add("blk--moving");
    grid.classList.add(how === "drag" ? "cal--dragging" : "cal--keymove");
    notice.hidden = true;
    moving = {
      block: block, how: how, span: span, ghost: ghost, busy: false,
      from: {column: column, minute: minute}, column: column, minute: minute,
    };
    show(column, minute);
    return true;
  }

  function show(column, minute) {
    var length = moving.span * rowMinutes;
    minute = Math.min(Math.max(minute, first), last - length);
    moving.column = column;
    moving.minute = minute;
    setClassNumber(moving.ghost, "gc", column.index);
    setClassNumber(moving.ghost, "gr", rowOf(minute));
    moving.ghost.textContent = clock(minute);
    if (moving.how === "keys") moving.ghost.scrollIntoView({block: "nearest", inline: "nearest"});
  }

  function stop() {
    if (!moving) return;
    moving.ghost.remove();
    moving.block.classList.remove("blk--moving");
    grid.classList.remove("cal--dragging", "cal--keymove");
    moving = null;
  }

  function cancel() {
    if (!moving || moving.busy) return;
    var block = moving.block;
    var text = say(gettext("Not moved: %(label)s stays at %(where)s."),
      {label: block.dataset.label, where: where(moving.from.column, moving.from.minute)});
    stop();
    announce(text);
  }

  function refused(text) {
    var block = moving && moving.block;
    stop();
    notice.hidden = false;
    notice.textContent = text;
    if (block) block.focus();
  }

  function confirm() {
    if (!moving || moving.busy) return;
    if (moving.column === moving.from.column && moving.minute === moving.from.minute) {
      cancel();
      return;
    }
    moving.busy = true;
    var block = moving.block;
    var data = new FormData(form); // the CSRF token
    data.append("date", moving.column.day);
    data.append("time", hhmm(moving.minute));
    // The same stylist's column: each service of the visit keeps its stylist.
    data.append("stylist", moving.column.stylist === moving.from.column.stylist ? "" : moving.column.stylist);
    data.append("time_of", "appointment");
    data.append("nonce", nonce());
    announce(say(gettext("Moving %(label)s to %(where)s\u2026"), {label: block.dataset.label, where: where(moving.column, moving.minute)}));
    fetch(block.dataset.move, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: {Accept: "application/json"},
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === 0) {
        return response.json().then(function (body) {
          return {ok: response.ok, text: body.message || body.error};
        });
      }
      // Not the move's own answer (a 403 page, the sign-in page): its sentence.
      return response.text().then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var said = page.querySelector("main [role=alert], main .lead, main h1");
        return {ok: false, text: said ? said.textContent.trim()
          : say(gettext("The move did not go through (error %(status)s)."), {status: response.status})};
      });
    }).then(function (result) {
      if (result.ok) {
        try { window.sessionStorage.setItem(REMEMBER, block.getAttribute("href")); } catch (e) { /* private mode */ }
        window.location.reload();
      } else {
        refused(result.text || gettext("The move did not go through."));
      }
    }).catch(function () {
      refused(gettext("The move could not be sent. Check the connection and try again."));
    });
  }

  // --- the keyboard -------------------------------------------------------------

  function onKey(event) {
    var block = event.currentTarget;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (!moving) {
      if (event.key === "m" || event.key === "M") {
        event.preventDefault();
        if (start(block, "keys")) {
          announce(say(gettext("Moving %(label)s, now at %(where)s. Arrow keys choose the time and column, Enter moves it there, Escape leaves it."),
            {label: block.dataset.label, where: where(moving.column, moving.minute)}));
        }
      }
      return;
    }
    if (moving.block !== block || moving.busy) return;
    var column = moving.column;
    var minute = moving.minute;
    switch (event.key) {
      case "ArrowUp": minute = Math.round((minute - slot) / slot) * slot; break;
      case "ArrowDown": minute = Math.round((minute + slot) / slot) * slot; break;
      case "ArrowLeft": column = columnAt(column.index - 1) || column; break;
      case "ArrowRight": column = columnAt(column.index + 1) || column; break;
      case "Enter": event.preventDefault(); confirm(); return; // not the link's own Enter
      case "Escape": event.preventDefault(); cancel(); return;
      default: return;
    }
    event.preventDefault(); // the arrows would scroll the calendar
    show(column, minute);
    announce(where(moving.column, moving.minute));
  }

  // --- the pointer (mouse, pen, touch) ------------------------------------------

  function pointerMinute(event, column) {
    var box = column.area.getBoundingClientRect();
    return first + (event.clientY - box.top) / box.height * (last - first);
  }

  function columnUnder(x) {
    var best = null, distance = Infinity;
    columns.forEach(function (column) {
      var box = column.area.getBoundingClientRect();
      var d = x < box.left ? box.left - x : x > box.right ? x - box.right : 0;
      if (d < distance) { best = column; distance = d; }
    });
    return best;
  }

  function onPointerDown(event) {
    if (moving || !event.isPrimary || event.button !== 0) return;
    pending = {block: event.currentTarget, id: event.pointerId, x: event.clientX, y: event.clientY};
  }

  function onPointerMove(event) {
    if (pending && event.pointerId === pending.id && !moving) {
      if (Math.abs(event.clientX - pending.x) + Math.abs(event.clientY - pending.y) < DRAG_THRESHOLD) return;
      var block = pending.block;
      if (!start(block, "drag")) { pending = null; return; }
      // Where in the block it was picked up: the block keeps that point under the pointer.
      moving.grab = pointerMinute({clientY: pending.y}, moving.from.column) - moving.from.minute;
      moving.pointer = pending.id;
      pending = null;
      try { block.setPointerCapture(moving.pointer); } catch (e) { /* released already */ }
    }
    if (!moving || moving.how !== "drag" || moving.busy || event.pointerId !== moving.pointer) return;
    event.preventDefault();
    var edge = scroller.getBoundingClientRect();
    if (event.clientY < edge.top + 24) scroller.scrollTop -= 12;
    else if (event.clientY > edge.bottom - 24) scroller.scrollTop += 12;
    var column = columnUnder(event.clientX);
    var minute = pointerMinute(event, column) - moving.grab;
    show(column, Math.round(minute / slot) * slot);
  }

  function onPointerUp(event) {
    if (pending && event.pointerId === pending.id) pending = null;
    if (!moving || moving.how !== "drag" || event.pointerId !== moving.pointer || moving.busy) return;
    swallowClick = true;
    window.setTimeout(function () { swallowClick = false; }, 0);
    if (event.type === "pointercancel") cancel();
    else confirm();
  }

  function onClick(event) {
    if (swallowClick || (moving && moving.block === event.currentTarget)) event.preventDefault();
  }

  // --- start --------------------------------------------------------------------

  function init() {
    grid = document.querySelector(".cal[data-first]");
    form = document.getElementById("cal-move");
    var blocks = grid ? grid.querySelectorAll("a[data-move]") : [];
    if (!form || !blocks.length || !window.fetch) return;
    first = Number(grid.dataset.first);
    last = Number(grid.dataset.last);
    slot = Number(grid.dataset.slot) || 15;
    rowMinutes = Number(grid.dataset.rowMinutes);
    headerRows = Number(grid.dataset.headerRows);
    scroller = grid.parentNode;
    columns = Array.prototype.map.call(grid.querySelectorAll(".cal__col[data-column]"), function (section) {
      return {
        index: Number(section.dataset.column),
        stylist: section.dataset.stylist,
        name: section.dataset.name,
        day: section.dataset.day,
        dayLabel: section.dataset.dayLabel,
        area: section.querySelector(".cal__off"),
      };
    });

    var help = document.getElementById("cal-move-help");
    help.hidden = false;
    live = document.createElement("p");
    live.className = "visually-hidden";
    live.setAttribute("aria-live", "polite");
    live.id = "cal-move-live";
    help.after(live);
    notice = document.createElement("p");
    notice.className = "notice notice--error";
    notice.setAttribute("role", "alert");
    notice.hidden = true;
    help.before(notice);

    grid.classList.add("cal--movable");
    blocks.forEach(function (block) {
      block.setAttribute("aria-describedby", "cal-move-help");
      block.setAttribute("aria-keyshortcuts", "M");
      block.draggable = false; // not the browser's own drag of a link
      block.addEventListener("keydown", onKey);
      block.addEventListener("blur", function () { if (moving && moving.how === "keys") cancel(); });
      block.addEventListener("pointerdown", onPointerDown);
      block.addEventListener("click", onClick);
      block.addEventListener("dragstart", function (event) { event.preventDefault(); });
    });
    document.addEventListener("pointermove", onPointerMove);
    document.addEventListener("pointerup", onPointerUp);
    document.addEventListener("pointercancel", onPointerUp);
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && moving && moving.how === "drag") cancel();
    });

    var moved = null;
    try { moved = window.sessionStorage.getItem(REMEMBER); window.sessionStorage.removeItem(REMEMBER); } catch (e) { /* private mode */ }
    if (moved) {
      var again = grid.querySelector('a[data-move][href="' + moved.replace(/"/g, "") + '"]');
      if (again) again.focus({preventScroll: false});
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
