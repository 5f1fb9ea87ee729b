// The workbench: claim a task, show its documents beside a form built from the job's field
// spec, check each field as it is left (the server's rule engine, POST /v1/tasks/{id}/check),
// keep the lease alive while the contractor works, and submit. Machine pre-fill fills the
// form; the field in focus shows where on the page its value was read. Every call goes to the public
// API; the sign-in cookie goes with it, and the X-BPO-Page header says which page sent it.
"use strict";

(() => {
  const PAGE_HEADER = { "X-BPO-Page": "workbench" };
  const IDLE_AFTER_MS = 30_000; // no input for this long: not active, no heartbeat
  const ZOOMS = [0.25, 0.33, 0.5, 0.67, 0.75, 0.9, 1, 1.1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4];
  const PAN_PX = 120;
  const SURE = 0.8; // a suggestion below this confidence is marked as unsure
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const leaseSeconds = Number(body.dataset.leaseSeconds);

  let task = null; // the task being worked on, as claim gave it
  let leaseExpiresAt = 0; // ms since the epoch
  let lastInput = Date.now();
  let activeSeconds = 0;
  let visited = new Set(); // fields the contractor has left at least once
  let reasonFor = null; // "unreadable" or "reject" while the reason form is open
  let claiming = false; // a claim is on its way: another would hold a second task
  let submitting = false; // a submit is on its way
  const instructionsHtml = new Map(); // job id -> rendered instructions
  const viewer = {
    doc: 0, page: 0, zoom: null, rotation: 0, bitmap: null, token: 0,
    highlight: null, // {documentId, page, boxes} of the focused field's suggestion
    showWords: false, words: null, // the shown page's words, once fetched
  };
  const wordsByUrl = new Map(); // words_url -> words of the page
  let lastField = null; // the field a click on a word types into

  // The API

  async function api(method, path, payload) {
    const options = { method, headers: { ...PAGE_HEADER }, credentials: "same-origin" };
    if (payload !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload);
    }
    const response = await fetch(path, options);
    const type = response.headers.get("content-type") || "";
    const answer = type.includes("json") ? await response.json() : await response.text();
    return { status: response.status, body: answer };
  }

  function say(text, isError = false) {
    $("status").textContent = text;
    $("status").classList.toggle("error", isError);
  }

  function problemText(answer) {
    if (answer && typeof answer === "object" && answer.detail) return answer.detail;
    return typeof answer === "string" && answer ? answer : "the service did not answer";
  }

  // Claiming and the lease

  async function claim() {
    if (task || claiming) return;
    claiming = true;
    $("claim").disabled = true;
    say("Looking for work…");
    performance.mark("claim-start");
    try {
      const { status, body: answer } = await api("POST", "/v1/tasks/claim", { limit: 1 });
      if (status === 401) { window.location.assign("/work/login"); return; }
      if (status !== 200) { say(problemText(answer), true); return; }
      if (!answer.tasks.length) {
        $("idle-text").textContent = "No work right now. Try again in a moment.";
        say("No task available.");
        return;
      }
      performance.mark("claimed");
      await open(answer.tasks[0]);
    } finally {
      claiming = false;
      $("claim").disabled = false;
    }
  }

  async function open(claimed) {
    task = claimed;
    delete body.dataset.painted;
    leaseExpiresAt = Date.parse(task.lease_expires_at);
    activeSeconds = 0;
    visited = new Set();
    lastInput = Date.now();
    body.dataset.state = "working";
    body.dataset.kind = task.kind;
    $("idle").hidden = true;
    $("task").hidden = false;
    const kinds = { entry: "Key", review: "Review", adjudication: "Adjudicate" };
    $("task-title").textContent = `${kinds[task.kind] || task.kind}: ${task.work_type}`;
    $("unreadable").hidden = task.kind !== "entry";
    $("reject").hidden = task.kind === "entry";
    closeReason();
    showSource();
    buildForm();
    prefill();
    showEntries();
    // The first field to key, at once: in an adjudication, the first the keyings disagree on.
    const first = $("fields").querySelector(".differs input, .differs select")
      || $("fields").querySelector("input, select");
    if (first) first.focus();
    say(`Task ${task.id.slice(-8)} is yours.`);
    await Promise.all([showInstructions(), openDocuments()]);
  }

  function close(message, isError = false) {
    task = null;
    body.dataset.state = "idle";
    delete body.dataset.kind;
    delete body.dataset.painted;
    $("task").hidden = true;
    $("idle").hidden = false;
    $("idle-text").textContent = "No task open.";
    $("lease").textContent = "";
    viewer.bitmap = null;
    viewer.highlight = null;
    viewer.words = null;
    viewer.token += 1; // a page image still on its way is not drawn
    wordsByUrl.clear();
    lastField = null;
    clearViewer();
    say(message, isError);
    $("claim").focus();
  }

  async function heartbeat() {
    if (!task || document.visibilityState !== "visible") return;
    if (Date.now() - lastInput > leaseSeconds * 1000) return; // away: let the lease run out
    const { status, body: answer } = await api("POST", `/v1/tasks/${task.id}/heartbeat`);
    if (status === 200) leaseExpiresAt = Date.parse(answer.lease_expires_at);
    else if (status === 409 || status === 404) close(problemText(answer), true);
  }

  function tick() {
    if (!task) return;
    if (document.hasFocus() && Date.now() - lastInput < IDLE_AFTER_MS) activeSeconds += 1;
    const left = Math.round((leaseExpiresAt - Date.now()) / 1000);
    if (left <= 0) { close("The lease ran out; the task went back to the queue.", true); return; }
    const minutes = Math.floor(left / 60);
    $("lease").textContent = `Lease ${minutes}:${String(left % 60).padStart(2, "0")}`;
    $("lease").classList.toggle("expiring", left < 60);
    if (left === 59) say("The lease ends in a minute: keep working to keep it.", true);
  }

  function release() {
    if (!task) return;
    const id = task.id;
    close("Task given back.");
    api("POST", `/v1/tasks/${id}/release`);
  }

  // The form

  const INPUTS = {
    date: { type: "date" },
    integer: { type: "text", inputMode: "numeric" },
    decimal: { type: "text", inputMode: "decimal" },
    phone: { type: "tel" },
    email: { type: "text", inputMode: "email" },
  };

  function buildForm() {
    const holder = $("fields");
    holder.replaceChildren();
    task.fields.forEach((spec) => {
      const row = document.createElement("div");
      row.className = "field";
      row.dataset.field = spec.name;
      const id = `field-${spec.name}`;
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = spec.label || spec.name;
      const required = spec.required !== false;
      if (required) {
        const mark = document.createElement("span");
        mark.className = "required";
        mark.textContent = " *";
        mark.setAttribute("aria-hidden", "true");
        label.append(mark);
      }
      const input = spec.type === "enum" || spec.type === "boolean"
        ? choice(spec) : document.createElement("input");
      if (input.tagName === "INPUT") {
        const kind = INPUTS[spec.type] || { type: "text" };
        input.type = kind.type;
        if (kind.inputMode) input.inputMode = kind.inputMode;
        input.autocomplete = "off";
        input.spellcheck = false;
      }
      input.id = id;
      input.name = spec.name;
      if (required) input.setAttribute("aria-required", "true");
      const described = [];
      row.append(label, input);
      if (spec.help) {
        const help = document.createElement("small");
        help.className = "help";
        help.id = `${id}-help`;
        help.textContent = spec.help;
        described.push(help.id);
        row.append(help);
      }
      const error = document.createElement("div");
      error.className = "field-error";
      error.id = `${id}-error`;
      described.push(error.id);
      row.append(error);
      input.setAttribute("aria-describedby", described.join(" "));
      holder.append(row);
    });
  }

  function prefill() {
    if (task.kind !== "entry") return;
    Object.entries(task.suggestions || {}).forEach(([name, suggestion]) => {
      const input = $(`field-${name}`);
      if (!input) return;
      input.value = String(suggestion.value);
      const row = input.closest(".field");
      const sure = suggestion.confidence >= SURE;
      row.classList.add(sure ? "suggested" : "unsure");
      const note = document.createElement("small");
      note.className = "suggestion";
      note.id = `${input.id}-suggestion`;
      const percent = Math.round(suggestion.confidence * 100);
      note.textContent = sure
        ? `Pre-filled (${percent} % sure): check it against the page.`
        : `Pre-filled, unsure (${percent} %): check it carefully.`;
      input.after(note);
      input.setAttribute("aria-describedby",
        `${note.id} ${input.getAttribute("aria-describedby")}`);
    });
  }

  function choice(spec) {
    const select = document.createElement("select");
    const options = spec.type === "boolean" ? ["true", "false"] : spec.choices || [];
    [["", "—"], ...options.map((value) => [value, spec.type === "boolean"
      ? (value === "true" ? "yes" : "no") : value])].forEach(([value, text]) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = text;
      select.append(option);
    });
    return select;
  }

  function values(names) {
    const data = {};
    names.forEach((name) => {
      const input = $(`field-${name}`);
      if (input) data[name] = input.value;
    });
    return data;
  }

  function showErrors(errors, only) {
    const byField = new Map();
    errors.forEach((error) => {
      const name = error.field.replace(/^data\./, "");
      if (!byField.has(name)) byField.set(name, error.message);
    });
    task.fields.forEach((spec) => {
      if (only && !only.has(spec.name)) return;
      const row = $("fields").querySelector(`[data-field="${CSS.escape(spec.name)}"]`);
      const message = byField.get(spec.name) || "";
      row.classList.toggle("invalid", Boolean(message));
      row.querySelector(".field-error").textContent = message;
      $(`field-${spec.name}`).setAttribute("aria-invalid", message ? "true" : "false");
    });
    const others = errors.filter((error) => !task.fields.some(
      (spec) => spec.name === error.field.replace(/^data\./, "")));
    if (others.length) say(others.map((error) => `${error.field}: ${error.message}`).join("; "), true);
  }

  async function checkVisited() {
    if (!task || !visited.size) return;
    const checking = task;
    const { status, body: answer } = await api(
      "POST", `/v1/tasks/${task.id}/check`, { data: values([...visited]) });
    if (checking !== task) return;
    if (status === 200) showErrors(answer.errors, visited);
    else if (status === 409 || status === 404) close(problemText(answer), true);
  }

  async function submit(extra) {
    if (!task || submitting) return;
    submitting = true;
    const id = task.id;
    const payload = { active_seconds: activeSeconds, ...extra };
    if (!extra) payload.data = values(task.fields.map((spec) => spec.name));
    $("submit").disabled = true;
    try {
      const { status, body: answer } = await api("POST", `/v1/tasks/${id}/submit`, payload);
      if (status === 202) {
        body.dataset.submitted = String(Number(body.dataset.submitted || 0) + 1);
        close("Submitted. Taking the next task…");
        await claim();
        return;
      }
      if (status === 422 && answer.errors) {
        task.fields.forEach((spec) => visited.add(spec.name));
        showErrors(answer.errors);
        say(answer.detail, true);
        const bad = $("fields").querySelector(".invalid input, .invalid select");
        if (bad) bad.focus();
        return;
      }
      if (status === 409 || status === 404) {
        if (task && task.id === id) close(problemText(answer), true);
        return;
      }
      say(problemText(answer), true);
    } finally {
      submitting = false;
      $("submit").disabled = false;
    }
  }

  function askReason(kind) {
    if (!task) return;
    reasonFor = kind;
    $("reason-label").textContent = kind === "unreadable"
      ? "What can't be read?" : "Why reject this item?";
    $("reason-form").hidden = false;
    $("reason").value = "";
    $("reason").focus();
  }

  function closeReason() {
    reasonFor = null;
    $("reason-form").hidden = true;
  }

  // What the task shows besides the form: the client's source, the keyings to compare

  function showSource() {
    const entries = Object.entries(task.source || {});
    const table = $("source");
    table.hidden = !entries.length || task.documents.length > 0;
    const rows = entries.map(([key, value]) => {
      const row = document.createElement("tr");
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = key;
      const cell = document.createElement("td");
      cell.textContent = typeof value === "string" ? value : JSON.stringify(value);
      row.append(name, cell);
      return row;
    });
    table.tBodies[0].replaceChildren(...rows);
  }

  function shown(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  function showEntries() {
    const table = $("entries");
    const entries = task.entries || [];
    table.hidden = !entries.length;
    if (!entries.length) return;
    const head = document.createElement("tr");
    ["Field", ...entries.map((_, n) => `Keying ${n + 1}`)].forEach((text) => {
      const cell = document.createElement("th");
      cell.scope = "col";
      cell.textContent = text;
      head.append(cell);
    });
    table.tHead.replaceChildren(head);
    const rows = task.fields.map((spec) => {
      const seen = entries.map((entry) => shown(entry.data[spec.name]));
      const differs = new Set(seen).size > 1;
      const row = document.createElement("tr");
      row.classList.toggle("differs", differs);
      row.dataset.field = spec.name;
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = spec.label || spec.name;
      row.append(name);
      entries.forEach((entry, n) => {
        const cell = document.createElement("td");
        if (entry.unreadable) {
          cell.className = "unreadable";
          cell.textContent = `unreadable: ${entry.unreadable}`;
        } else cell.textContent = seen[n];
        row.append(cell);
      });
      // Where every keying agrees the form starts from their value; where they differ, empty.
      const input = $(`field-${spec.name}`);
      input.closest(".field").classList.toggle("differs", differs);
      if (!differs && !entries.some((entry) => entry.unreadable)) input.value = seen[0];
      return row;
    });
    table.tBodies[0].replaceChildren(...rows);
  }

  async function showInstructions() {
    const box = $("instructions-box");
    box.hidden = !task.instructions;
    if (!task.instructions) return;
    if (!instructionsHtml.has(task.job_id)) {
      const { status, body: html } = await api(
        "POST", "/work/instructions", { markdown: task.instructions });
      instructionsHtml.set(task.job_id, status === 200 ? html : "");
    }
    // Rendered by the server from Markdown with raw HTML escaped.
    $("instructions").innerHTML = instructionsHtml.get(task.job_id);
  }

  // The document viewer: one page at a time on a canvas, zoomed, rotated, moved.

  const viewerButtons = [
    "prev-page", "next-page", "zoom-out", "zoom-in", "fit-width", "rotate", "words",
  ];

  function clearViewer() {
    const canvas = $("page-canvas");
    canvas.width = 0;
    canvas.height = 0;
    canvas.setAttribute("aria-label", "No page shown");
    $("page-label").textContent = "No document";
    $("document-select").replaceChildren();
    $("document-select").disabled = true;
    viewerButtons.forEach((id) => { $(id).disabled = true; });
  }

  async function openDocuments() {
    clearViewer();
    const documents = task.documents || [];
    if (!documents.length) return;
    const select = $("document-select");
    documents.forEach((doc, n) => {
      const option = document.createElement("option");
      option.value = String(n);
      option.textContent = doc.filename;
      select.append(option);
    });
    select.disabled = documents.length < 2;
    viewerButtons.forEach((id) => { $(id).disabled = false; });
    viewer.doc = 0;
    viewer.rotation = 0;
    viewer.zoom = null;
    await showPage(0);
  }

  async function pageImage(url) {
    for (let attempt = 0; attempt < 30; attempt += 1) {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok) return createImageBitmap(await response.blob());
      if (response.status !== 409) throw new Error(`the page image answered ${response.status}`);
      const wait = Number(response.headers.get("Retry-After")) || 1; // still being rendered
      await new Promise((resolve) => { setTimeout(resolve, wait * 1000); });
    }
    throw new Error("the page is still being rendered");
  }

  async function showPage(number) {
    if (!task) return;
    const doc = task.documents[viewer.doc];
    if (!doc || !doc.pages.length) return;
    viewer.page = Math.max(0, Math.min(number, doc.pages.length - 1));
    viewer.words = null;
    const page = doc.pages[viewer.page];
    $("page-label").textContent = `Page ${viewer.page + 1} of ${doc.pages.length}`;
    $("prev-page").disabled = viewer.page === 0;
    $("next-page").disabled = viewer.page === doc.pages.length - 1;
    const token = ++viewer.token;
    try {
      const bitmap = await pageImage(page.image_url);
      if (token !== viewer.token) return; // another page, or no task, was asked for meanwhile
      viewer.bitmap = bitmap;
      if (viewer.showWords) await loadWords();
      if (token !== viewer.token) return;
      draw();
      $("page-canvas").setAttribute(
        "aria-label", `${doc.filename}, page ${viewer.page + 1} of ${doc.pages.length}`);
      if (!body.dataset.painted) performance.mark("painted");
      body.dataset.painted = `${doc.id}:${viewer.page + 1}`;
    } catch (error) {
      say(`${doc.filename}: ${error.message}`, true);
    }
  }

  // Where the focused field's value was read: the box drawn on its page, scrolled into view.
  async function pointAt(name) {
    const suggestion = task && task.kind === "entry" && (task.suggestions || {})[name];
    if (!suggestion || !suggestion.boxes.length) {
      if (viewer.highlight) { viewer.highlight = null; draw(); }
      return;
    }
    viewer.highlight = {
      documentId: suggestion.document_id, page: suggestion.page, boxes: suggestion.boxes,
    };
    const doc = task.documents.findIndex((d) => d.id === suggestion.document_id);
    if (doc >= 0 && (doc !== viewer.doc || suggestion.page - 1 !== viewer.page)) {
      viewer.doc = doc;
      $("document-select").value = String(doc);
      await showPage(suggestion.page - 1);
    } else {
      draw();
    }
    scrollToHighlight();
  }

  // A point of the page (fractions from its top left) on the canvas as drawn.
  function onCanvas(x, y) {
    const zoom = viewer.zoom || fitZoom();
    const w = viewer.bitmap.width * zoom;
    const h = viewer.bitmap.height * zoom;
    const [dx, dy] = [(x - 0.5) * w, (y - 0.5) * h];
    const turn = (viewer.rotation * Math.PI) / 180;
    const canvas = $("page-canvas");
    return [canvas.width / 2 + dx * Math.cos(turn) - dy * Math.sin(turn),
      canvas.height / 2 + dx * Math.sin(turn) + dy * Math.cos(turn)];
  }

  function scrollToHighlight() {
    const { highlight, bitmap } = viewer;
    if (!highlight || !bitmap) return;
    const [x0, y0, x1, y1] = highlight.boxes[0];
    const [cx, cy] = onCanvas((x0 + x1) / 2, (y0 + y1) / 2);
    const box = $("canvas-box");
    const canvas = $("page-canvas");
    box.scrollTo({
      left: canvas.offsetLeft + cx - box.clientWidth / 2,
      top: canvas.offsetTop + cy - box.clientHeight / 2,
    });
  }

  async function toggleWords() {
    if (!task || !viewer.bitmap) return;
    viewer.showWords = !viewer.showWords;
    $("words").setAttribute("aria-pressed", String(viewer.showWords));
    if (viewer.showWords) await loadWords();
    draw();
  }

  async function loadWords() {
    const page = task.documents[viewer.doc].pages[viewer.page];
    if (!wordsByUrl.has(page.words_url)) {
      const response = await fetch(page.words_url, { credentials: "same-origin" });
      if (!response.ok) {
        say(response.status === 409
          ? "The page's words are still being read; try again in a moment."
          : `The page's words answered ${response.status}.`, true);
        viewer.words = null;
        return;
      }
      wordsByUrl.set(page.words_url, (await response.json()).words);
    }
    viewer.words = wordsByUrl.get(page.words_url);
  }

  // A click on a shown word types it into the field last in focus.
  function clickWord(event) {
    if (!viewer.showWords || !viewer.words || !lastField) return;
    const canvas = $("page-canvas");
    const rect = canvas.getBoundingClientRect();
    const [px, py] = [event.clientX - rect.left, event.clientY - rect.top];
    const hit = viewer.words.find((word) => {
      const [ax, ay] = onCanvas(word.box[0], word.box[1]);
      const [bx, by] = onCanvas(word.box[2], word.box[3]);
      return px >= Math.min(ax, bx) && px <= Math.max(ax, bx)
        && py >= Math.min(ay, by) && py <= Math.max(ay, by);
    });
    if (!hit) return;
    const input = lastField;
    const append = input.value && input.tagName === "INPUT";
    input.value = append ? `${input.value} ${hit.text}` : hit.text;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
  }

  function fitZoom() {
    const box = $("canvas-box");
    const { width, height } = viewer.bitmap;
    const across = viewer.rotation % 180 ? height : width;
    return Math.max(0.1, (box.clientWidth - 20) / across);
  }

  function draw() {
    const { bitmap } = viewer;
    if (!bitmap) return;
    const zoom = viewer.zoom || fitZoom();
    const sideways = viewer.rotation % 180 !== 0;
    const canvas = $("page-canvas");
    const width = Math.round((sideways ? bitmap.height : bitmap.width) * zoom);
    const height = Math.round((sideways ? bitmap.width : bitmap.height) * zoom);
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext("2d");
    context.translate(width / 2, height / 2);
    context.rotate((viewer.rotation * Math.PI) / 180);
    const [w, h] = [bitmap.width * zoom, bitmap.height * zoom];
    context.drawImage(bitmap, -w / 2, -h / 2, w, h);
    const here = task && task.documents[viewer.doc];
    if (viewer.showWords && viewer.words) {
      context.beginPath(); // one path for every word: a thousand boxes are one stroke
      viewer.words.forEach(({ box: [x0, y0, x1, y1] }) => {
        context.rect(-w / 2 + x0 * w, -h / 2 + y0 * h, (x1 - x0) * w, (y1 - y0) * h);
      });
      context.lineWidth = 1;
      context.strokeStyle = "rgba(26, 95, 180, 0.55)";
      context.stroke();
    }
    const mark = viewer.highlight;
    if (mark && here && mark.documentId === here.id && mark.page === viewer.page + 1) {
      context.beginPath();
      mark.boxes.forEach(([x0, y0, x1, y1]) => {
        context.rect(
          -w / 2 + x0 * w - 3, -h / 2 + y0 * h - 3, (x1 - x0) * w + 6, (y1 - y0) * h + 6);
      });
      context.fillStyle = "rgba(255, 200, 0, 0.3)";
      context.fill();
      context.lineWidth = 2;
      context.strokeStyle = "#c98a00";
      context.stroke();
    }
    $("zoom-label").textContent = viewer.zoom ? `${Math.round(zoom * 100)} %` : "fit";
  }

  function zoomBy(step) {
    if (!viewer.bitmap) return;
    const now = viewer.zoom || fitZoom();
    const next = step > 0 ? ZOOMS.find((z) => z > now + 0.001) : [...ZOOMS].reverse().find((z) => z < now - 0.001);
    viewer.zoom = next || now;
    draw();
  }

  function nextDocument() {
    if (!task || task.documents.length < 2) return;
    viewer.doc = (viewer.doc + 1) % task.documents.length;
    $("document-select").value = String(viewer.doc);
    showPage(0);
  }

  // Keys, buttons and activity

  const ALT_KEYS = {
    PageDown: () => showPage(viewer.page + 1),
    PageUp: () => showPage(viewer.page - 1),
    Equal: () => zoomBy(1),
    NumpadAdd: () => zoomBy(1),
    Minus: () => zoomBy(-1),
    NumpadSubtract: () => zoomBy(-1),
    Digit0: () => { viewer.zoom = null; draw(); },
    KeyR: () => { viewer.rotation = (viewer.rotation + 90) % 360; draw(); },
    KeyW: toggleWords,
    KeyD: nextDocument,
    KeyU: () => { if (task && task.kind === "entry") askReason("unreadable"); },
    KeyJ: () => { if (task && task.kind !== "entry") askReason("reject"); },
    KeyQ: release,
    ArrowUp: () => $("canvas-box").scrollBy(0, -PAN_PX),
    ArrowDown: () => $("canvas-box").scrollBy(0, PAN_PX),
    ArrowLeft: () => $("canvas-box").scrollBy(-PAN_PX, 0),
    ArrowRight: () => $("canvas-box").scrollBy(PAN_PX, 0),
  };

  function typing(target) {
    return target instanceof HTMLElement && target.matches("input, select, textarea");
  }

  document.addEventListener("keydown", (event) => {
    lastInput = Date.now();
    if (event.altKey && !event.ctrlKey && !event.metaKey && ALT_KEYS[event.code]) {
      event.preventDefault();
      ALT_KEYS[event.code]();
      return;
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (reasonFor) $("reason-form").requestSubmit();
      else if (task) submit();
      return;
    }
    if (event.key === "Escape" && reasonFor) { closeReason(); return; }
    if (typing(event.target) || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "?") { event.preventDefault(); $("help").showModal(); return; }
    if ((event.key === "n" || event.key === "N") && !task) { event.preventDefault(); claim(); }
  });
  ["pointerdown", "input", "wheel"].forEach((type) => {
    document.addEventListener(type, () => { lastInput = Date.now(); }, { passive: true });
  });
  $("fields").addEventListener("focusin", (event) => {
    if (!typing(event.target) || !task) return;
    lastField = event.target;
    pointAt(event.target.name);
  });
  $("fields").addEventListener("input", (event) => {
    const row = event.target.closest(".field");
    if (row) row.classList.remove("suggested", "unsure"); // the keyer's own value now
  });
  // With the words shown, a click on the page keeps the field in focus (and types the word).
  $("page-canvas").addEventListener("mousedown", (event) => {
    if (viewer.showWords && lastField) event.preventDefault();
  });
  $("page-canvas").addEventListener("click", clickWord);
  $("fields").addEventListener("focusout", (event) => {
    if (!typing(event.target) || !task) return;
    visited.add(event.target.name);
    checkVisited();
  });
  $("entry").addEventListener("submit", (event) => { event.preventDefault(); submit(); });
  $("reason-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const reason = $("reason").value.trim();
    if (!reason) { $("reason").focus(); return; }
    const kind = reasonFor;
    closeReason();
    submit(kind === "unreadable" ? { unreadable: reason } : { reject: reason });
  });
  $("reason-cancel").addEventListener("click", closeReason);
  $("claim").addEventListener("click", claim);
  $("unreadable").addEventListener("click", () => askReason("unreadable"));
  $("reject").addEventListener("click", () => askReason("reject"));
  $("release").addEventListener("click", release);
  $("help-button").addEventListener("click", () => $("help").showModal());
  $("prev-page").addEventListener("click", ALT_KEYS.PageUp);
  $("next-page").addEventListener("click", ALT_KEYS.PageDown);
  $("zoom-in").addEventListener("click", ALT_KEYS.Equal);
  $("zoom-out").addEventListener("click", ALT_KEYS.Minus);
  $("fit-width").addEventListener("click", ALT_KEYS.Digit0);
  $("rotate").addEventListener("click", ALT_KEYS.KeyR);
  $("words").addEventListener("click", toggleWords);
  $("document-select").addEventListener("change", (event) => {
    viewer.doc = Number(event.target.value);
    showPage(0);
  });
  window.addEventListener("resize", () => { if (!viewer.zoom) draw(); });
  // Leaving the page gives the task back at once rather than when the lease runs out.
  window.addEventListener("pagehide", () => {
    if (task) {
      fetch(`/v1/tasks/${task.id}/release`, {
        method: "POST", headers: PAGE_HEADER, credentials: "same-origin", keepalive: true,
      });
    }
  });
  setInterval(tick, 1000);
  setInterval(heartbeat, Math.max(10, leaseSeconds / 3) * 1000);
  $("claim").focus();
})();
