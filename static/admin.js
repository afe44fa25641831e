// Boothgate admin: copy buttons, card saves without a page reload, reference previews,
// "try it" runs and confirmations. Event delegation, so swapped-in cards keep working.
"use strict";

const ui = document.body.dataset;

// fetch() refuses URLs that carry credentials, which a page opened as
// http://user:pass@host/ passes on to its relative links: rebuild them on the bare origin.
function bareUrl(url) {
  const parsed = new URL(url, location.href);
  return location.origin + parsed.pathname + parsed.search;
}

function copyBySelection(text) {
  // Plain-HTTP admin pages have no clipboard API: copy through a hidden selection.
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
}

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text).catch(() => copyBySelection(text));
  }
  return copyBySelection(text);
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  // Without its own text, a button copies the box beside it.
  const text = button.dataset.copy ?? button.closest(".copy-row")?.querySelector("input")?.value;
  copyText(text).then(() => {
    button.textContent = ui.copied;
    button.classList.add("done");
    setTimeout(() => { button.textContent = label; button.classList.remove("done"); }, 2000);
  });
});

document.addEventListener("submit", async (event) => {
  const form = event.target;
  // A card's questions are said once on the page (`data-ask` names one of the cards' own).
  const asked = event.submitter?.dataset.ask;
  const confirmation = event.submitter?.dataset.confirm || form.dataset.confirm
    || (asked && form.closest(".cards")?.dataset[asked]);
  if (confirmation && !window.confirm(confirmation)) {
    event.preventDefault();
    return;
  }
  if (!form.classList.contains("card-form")) return;
  event.preventDefault();
  const card = form.closest(".card");
  const status = card.querySelector(".card-status");
  status.textContent = ui.saving;
  try {
    const response = await fetch(bareUrl(form.action), {
      method: "POST",
      body: new FormData(form, event.submitter),
      headers: { "x-partial": "card" },
      credentials: "same-origin",
    });
    const html = await response.text();
    if (html.trimStart().startsWith("<section")) {
      card.outerHTML = html;
    } else {
      status.textContent = `${ui.saveFailed} (${response.status})`;
    }
  } catch (e) {
    status.textContent = `${ui.saveFailed} (${e.message})`;
  }
});

// A slot never set up is one line; "Set up" swaps in its card (the link opens the tab with
// that card open when the script does not run).
document.addEventListener("click", async (event) => {
  // The cards' "how to connect" links open the tab's one help.
  if (event.target.closest?.('a[href="#booth-help"]')) document.getElementById("booth-help").open = true;
  const link = event.target.closest?.("a.unfold");
  if (!link) return;
  event.preventDefault();
  try {
    const response = await fetch(link.dataset.card, { headers: { "x-partial": "card" }, credentials: "same-origin" });
    const html = await response.text();
    if (!response.ok || !html.trimStart().startsWith("<section")) throw new Error(response.status);
    const card = link.closest(".card");
    card.outerHTML = html;
    document.getElementById(card.id)?.querySelector("input.name")?.focus({ preventScroll: true });
  } catch {
    window.location.href = link.href;
  }
});

// A card edited but not saved: leaving the page asks first. A saved card is replaced by the
// server's copy, which is clean.
document.addEventListener("input", (event) => {
  const form = event.target.closest?.(".card-form");
  if (form && !event.target.classList.contains("try-input")) form.dataset.dirty = "1";
});
window.addEventListener("beforeunload", (event) => {
  if (document.querySelector(".card-form[data-dirty]")) event.preventDefault();
});

// A fallback picker arrives with only its own choice; the page's one list of slots fills it
// the first time it is opened or reached by keyboard.
function fillPicker(select) {
  const list = document.getElementById("fallback-choices");
  if (!list || select.dataset.filled) return;
  select.dataset.filled = "1";
  const chosen = select.value;
  const others = [...list.content.children].filter((o) => o.value !== select.dataset.own);
  select.replaceChildren(select.options[0], ...others.map((o) => o.cloneNode(true)));
  select.value = chosen;
}
for (const type of ["pointerdown", "focusin"]) {
  document.addEventListener(type, (event) => {
    const select = event.target.closest?.("select.fallback-picker");
    if (select) fillPicker(select);
  });
}

document.addEventListener("change", async (event) => {
  const input = event.target;
  const state = input.closest(".switch")?.querySelector(".switch-state");
  if (state) {
    state.textContent = input.checked ? state.dataset.on : state.dataset.off;
    return;
  }
  if (input.name === "reference" && input.files.length) {
    const row = input.closest(".reference-row");
    let thumb = row.querySelector(".thumb");
    if (thumb.tagName !== "IMG") {
      const img = document.createElement("img");
      img.className = "thumb";
      thumb.replaceWith(img);
      thumb = img;
    }
    thumb.src = URL.createObjectURL(input.files[0]);
    return;
  }
  if (input.classList.contains("try-input") && input.files.length) {
    const form = input.closest("form");
    const output = form.querySelector(".try-output");
    output.hidden = false;
    output.textContent = ui.tryRunning;
    const body = new FormData();
    body.append("csrf", form.querySelector("input[name=csrf]").value);
    body.append("file", input.files[0]);
    input.value = "";
    try {
      const response = await fetch(bareUrl(input.dataset.url), { method: "POST", body, credentials: "same-origin" });
      output.textContent = "";
      if (response.ok) {
        const img = document.createElement("img");
        img.src = URL.createObjectURL(await response.blob());
        img.className = "try-result";
        output.appendChild(img);
      } else {
        const error = await response.json().catch(() => ({ message: response.statusText }));
        // The reason in the page's words; the code and the server's own words beneath.
        const reasons = JSON.parse(form.closest(".cards")?.dataset.reasons || "{}");
        const p = document.createElement("p");
        p.className = "field-error";
        p.textContent = reasons[error.reason] || reasons.default || error.message;
        const detail = document.createElement("span");
        detail.className = "hint try-detail";
        detail.textContent = `${response.status} ${error.reason || ""}: ${error.message || ""}`;
        p.append(document.createElement("br"), detail);
        output.appendChild(p);
      }
    } catch (e) {
      output.textContent = String(e);
    }
  }
});

// Job times are rendered in UTC; show them in the operator's own time zone.
for (const time of document.querySelectorAll("time[data-ms]")) {
  time.textContent = new Date(Number(time.dataset.ms)).toLocaleString(document.documentElement.lang);
}

// The Live page: jobs starting and ending arrive as server-sent events; no reloads.
const live = document.getElementById("live");
if (live) {
  const inFlight = document.getElementById("live-in-flight");
  const photos = document.getElementById("live-photos");
  const status = document.getElementById("live-status");
  const showElapsed = () => {
    for (const item of inFlight.querySelectorAll("li[data-started]")) {
      const seconds = Math.max(0, Math.round((Date.now() - Number(item.dataset.started)) / 1000));
      item.querySelector(".elapsed").textContent = `${seconds} ${live.dataset.seconds}`;
    }
  };
  const showCounts = (counts) => {
    for (const [key, id] of [["succeeded", "live-succeeded"], ["failed", "live-failed"], ["timed_out", "live-timed-out"], ["rescued", "live-rescued"], ["ai_result_rate", "live-rate"]]) {
      document.getElementById(id).textContent = counts[key];
    }
    for (const [provider, health] of Object.entries(counts.health)) {
      const dot = document.getElementById(`live-health-${provider}`);
      if (dot) dot.className = `health-dot ${health}`;
    }
  };
  const failures = document.getElementById("live-failures");
  const reasons = JSON.parse(live.dataset.reasons);
  const titles = {};
  const title = (slot) => titles[slot] || slot;
  const started = (job) => {
    const item = document.createElement("li");
    item.dataset.job = job.job;
    item.dataset.started = job.started_at;
    item.append(`${title(job.slot)} · `);
    const elapsed = document.createElement("span");
    elapsed.className = "elapsed";
    item.appendChild(elapsed);
    inFlight.appendChild(item);
  };
  const ended = (job) => {
    inFlight.querySelector(`li[data-job="${CSS.escape(job.job)}"]`)?.remove();
    if (job.status !== "succeeded") return failed(job);
    const figure = document.createElement("figure");
    figure.dataset.job = job.job;
    const img = document.createElement("img");
    img.src = `${live.dataset.photos}/${encodeURIComponent(job.job)}/after`;
    img.alt = title(job.answered_by || job.slot);
    const caption = document.createElement("figcaption");
    caption.textContent = img.alt;
    // Images the checks refused before this one, and one printed although people were missing.
    if (job.rejected > 0) caption.append(` · ${live.dataset.rejected}: ${job.rejected}`);
    if (job.check_failed) caption.append(` · ${live.dataset.checkFailed}`);
    figure.append(img, caption);
    photos.prepend(figure);
    while (photos.children.length > Number(live.dataset.keepPhotos)) photos.lastElementChild.remove();
  };
  // A guest without an AI photo: the slot, why, and (on the admin's page) the job in History.
  const failed = (job) => {
    const item = document.createElement("li");
    item.dataset.job = job.job;
    const why = document.createElement("strong");
    why.textContent = reasons[job.reason] || reasons.default;
    item.append(`${title(job.slot)} · `, why);
    if (live.dataset.jobLink) {
      const link = document.createElement("a");
      link.href = live.dataset.jobLink + encodeURIComponent(job.job);
      link.textContent = live.dataset.openJob;
      item.append(" · ", link);
    }
    failures.prepend(item);
    while (failures.children.length > Number(live.dataset.keepFailures)) failures.lastElementChild.remove();
  };
  const stream = new EventSource(live.dataset.events);
  stream.addEventListener("job", (message) => {
    const { job, counts, titles: named } = JSON.parse(message.data);
    Object.assign(titles, named);
    if (job.type === "started") started(job); else ended(job);
    showCounts(counts);
    showElapsed();
  });
  // The server says it is alive every 2 s; 5 s of silence, or an error, is "no connection".
  let heard = Date.now();
  const lost = () => { status.textContent = live.dataset.lost; status.hidden = false; };
  const alive = () => { heard = Date.now(); status.hidden = true; };
  stream.onopen = alive;
  stream.addEventListener("heartbeat", alive);
  stream.addEventListener("job", alive);
  stream.onerror = lost;
  showElapsed();
  setInterval(() => {
    showElapsed();
    if (Date.now() - heard > 5000) lost();
  }, 1000);
}
