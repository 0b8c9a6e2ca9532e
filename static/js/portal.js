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
