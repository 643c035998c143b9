// Customer page: say what an adjustment did (a removal stops at a zero balance).
(function () {
  "use strict";
  const admin = window.LoyaltyAdmin;
  const form = document.getElementById("adjust-form");
  if (!admin || !form) return;
  form.addEventListener("admin:saved", function (event) {
    event.preventDefault();
    const done = event.detail.data.attributes;
    let message;
    if (done.applied > 0) {
      message = "Added " + done.applied.toLocaleString("en") + " points";
    } else {
      message = "Removed " + (-done.applied).toLocaleString("en") + " points";
      if (done.applied !== done.adjustment) message += " (all the balance held)";
    }
    admin.reload(message + ": the balance is now " + done.points_after.toLocaleString("en"));
  });
})();
