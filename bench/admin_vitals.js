// bench/admin's probe, run by Playwright at the start of every document (the admin's frame
// included): lab web vitals from the browser's own performance entries, as web-vitals counts them.
//   LCP: the last `largest-contentful-paint` entry before any input, from this document's start;
//   CLS: the largest session window of `layout-shift` entries without recent input (gaps
//        under 1 s, windows under 5 s);
//   INP: per interaction (Event Timing `interactionId`) its longest event; the worst one
//        (fewer than 50 interactions: no percentile). Entries under 16 ms are not reported.
// Each document's figures are appended to sessionStorage's `__vitalsLog` when it is left, so
// the interactions of a click that navigates (through the token bounce too) are still read.
(() => {
  const v = { lcp: null, lcpElement: null, cls: 0, shifts: [], interactions: {} };
  window.__vitals = v;
  const describe = (el) => {
    if (!el) return null;
    const name = el.tagName.toLowerCase();
    const cls = typeof el.className === "string" && el.className ? "." + el.className.trim().split(/\s+/).join(".") : "";
    const text = (el.textContent || "").replace(/\s+/g, " ").trim().slice(0, 40);
    return name + (el.id ? "#" + el.id : "") + cls + " “" + text + "”";
  };
  const observe = (type, handle, options) => {
    try {
      const observer = new PerformanceObserver((list) => list.getEntries().forEach(handle));
      observer.observe({ type, buffered: true, ...options });
      return () => observer.takeRecords().forEach(handle); // entries not yet delivered
    } catch (error) {
      return null; // not supported here
    }
  };
  let sessionValue = 0;
  let sessionFirst = 0;
  let sessionLast = 0;
  const flushes = [
    observe("largest-contentful-paint", (e) => {
      v.lcp = e.startTime;
      v.lcpElement = describe(e.element);
    }),
    observe("layout-shift", (e) => {
      if (e.hadRecentInput) return;
      if (sessionValue && e.startTime - sessionLast < 1000 && e.startTime - sessionFirst < 5000) {
        sessionValue += e.value;
      } else {
        sessionValue = e.value;
        sessionFirst = e.startTime;
      }
      sessionLast = e.startTime;
      v.cls = Math.max(v.cls, sessionValue);
      v.shifts.push({
        at: Math.round(e.startTime),
        value: e.value,
        sources: (e.sources || []).map((s) => describe(s.node)).filter(Boolean).slice(0, 3),
      });
    }),
    observe(
      "event",
      (e) => {
        if (!e.interactionId) return;
        const seen = v.interactions[e.interactionId];
        if (!seen || e.duration > seen.duration) {
          v.interactions[e.interactionId] = {
            name: e.name,
            duration: e.duration,
            delay: e.processingStart - e.startTime,
            processing: e.processingEnd - e.processingStart,
            target: describe(e.target),
          };
        }
      },
      { durationThreshold: 16 },
    ),
  ].filter(Boolean);
  window.addEventListener("pagehide", () => {
    flushes.forEach((flush) => flush());
    try {
      const log = JSON.parse(sessionStorage.getItem("__vitalsLog") || "[]");
      log.push({ path: location.pathname, ...v });
      sessionStorage.setItem("__vitalsLog", JSON.stringify(log));
    } catch (error) {
      // storage refused: this document's figures are lost, and said so by their absence
    }
  });
})();
