// Small enhancements; every page works without them.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});

// Walk-through: left and right arrow keys move between steps.
document.addEventListener("keydown", (event) => {
  const stepper = document.querySelector("[data-stepper]");
  if (!stepper || event.altKey || event.ctrlKey || event.metaKey) return;
  const target = event.target;
  if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
  const link = event.key === "ArrowRight" ? stepper.querySelector("[data-step-next]")
    : event.key === "ArrowLeft" ? stepper.querySelector("[data-step-previous]") : null;
  if (link) {
    window.location.href = link.href;
  }
});

// A region marked data-refresh-every="60" reloads itself in place: the page keeps its
// scroll and focus, and a polite live note says when it was updated. A background
// refresh does not keep the session awake and does not count as a look.
(() => {
  const region = document.querySelector("[data-refresh-every]");
  if (!region || !window.fetch || !window.DOMParser) return;
  const seconds = Math.max(15, parseInt(region.dataset.refreshEvery, 10) || 60);
  const note = document.getElementById(region.dataset.refreshNote || "");
  let due = false;

  const focusKey = (element) => {
    if (!element || element === document.body || !region.contains(element)) return null;
    if (element.id) return "#" + CSS.escape(element.id);
    if (element.tagName === "A" && element.getAttribute("href")) {
      return 'a[href="' + CSS.escape(element.getAttribute("href")) + '"]';
    }
    const form = element.closest("form[action]");
    if (form) return 'form[action="' + CSS.escape(form.getAttribute("action")) + '"] ' + element.tagName.toLowerCase();
    return null;
  };

  const refresh = async () => {
    if (document.hidden) {
      due = true;
      return;
    }
    due = false;
    try {
      const response = await fetch(window.location.href, {
        credentials: "same-origin",
        headers: { "X-Background-Refresh": "1" },
      });
      if (response.redirected) {
        // Logged out after the idle time: show the login page, not stale patient data.
        window.location.reload();
        return;
      }
      if (!response.ok) throw new Error(String(response.status));
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const freshRegion = fresh.querySelector("[data-refresh-every]");
      if (!freshRegion) throw new Error("no region");
      const key = focusKey(document.activeElement);
      region.replaceChildren(...Array.from(freshRegion.childNodes).map((node) => document.importNode(node, true)));
      if (key) {
        const again = region.querySelector(key);
        if (again) again.focus({ preventScroll: true });
      }
      const freshNote = note && fresh.getElementById(note.id);
      if (freshNote) note.textContent = freshNote.textContent;
    } catch (error) {
      if (note && region.dataset.refreshFailed) note.textContent = region.dataset.refreshFailed;
    }
  };

  window.setInterval(refresh, seconds * 1000);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && due) refresh();
  });
})();
