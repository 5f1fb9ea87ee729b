// The workbench: claim a task, show its documents beside a form built from the job's field
// spec, check each field as it is left (the server's rule engine, POST /v1/tasks/{id}/check),
// keep the lease alive while the contractor works, and submit. Machine pre-fill fills the
// form; the field in focus shows where on the page its value was read. Every call goes to the public
// API; the sign-in cookie goes with it, and the X-BPO-Page header says which page sent it.
"use strict";

(() => {
  const PAGE_HEADER = { "X-BPO-Page": "workbench" };
  const IDLE_AFTER_MS = 30_000; // no input for this long: not active (its time not counted)
  const HEARTBEAT_RETRY_MS = 5_000; // a heartbeat that did not get through, tried again
  const ZOOMS = [0.25, 0.33, 0.5, 0.67, 0.75, 0.9, 1, 1.1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4];
  const PAN_PX = 120;
  const SURE = 0.8; // a suggestion below this confidence is marked as unsure
  const GIVE_BACK_AGAIN_MS = 3_000; // entries keyed: a give-back is asked for twice within this
  const TYPED_ON_MS = 1_000; // keys closer together than this are one run of typing
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const leaseSeconds = Number(body.dataset.leaseSeconds);
  const BEAT_MS = Math.max(10, leaseSeconds / 3) * 1000; // the lease renewed this often

  let task = null; // the task being worked on, as claim gave it
  let leaseExpiresAt = 0; // ms since the epoch, by this computer's clock
  let lastInput = Date.now();
  let activeSeconds = 0;
  let visited = new Set(); // fields the contractor has left at least once
  let reasonFor = null; // "unreadable" or "reject" while the reason form is open
  let claiming = false; // a claim is on its way: another would hold a second task
  const submitting = new Set(); // the tasks whose submit is on its way
  const instructionsHtml = new Map(); // job id -> rendered instructions
  const viewer = {
    doc: 0, page: 0, zoom: null, rotation: 0, bitmap: null, token: 0,
    highlight: null, // {documentId, page, boxes} of the focused field's suggestion
    showWords: false, words: null, // the shown page's words, once fetched
  };
  const wordsByPage = new Map(); // "document id:page index" -> words of the page
  let lastField = null; // the field a click on a word types into
  let beforeReason = null; // what had the focus before a reason was asked for
  let heartbeatRetry = null; // the timer of a heartbeat tried again
  let beatAt = 0; // when the latest heartbeat was sent
  let beatSkipped = false; // the latest heartbeat due was not sent: the keyer was away
  let beatFailing = false; // the latest heartbeat got no answer, or the service's "not now"
  let keyed = false; // something keyed on this task (values, rows, a reason) and not sent
  let giveBackAskedAt = 0; // when a give-back was asked for with entries keyed
  // What the status line says that goes once it no longer holds: "found", what a check or a
  // submit found wrong; "lease", that the lease is about to end; "signed out", that the keyer
  // is to sign in again; "page waiting" and "words waiting", that the page's image or its
  // words are being asked for again; "page" and "words", that they could not be had.
  let statusOf = null;
  // The service closed the task while the keyer may have been keying: keys typed on without a
  // pause are what they were keying, not shortcuts.
  let takenAway = false;
  let lastKeyAt = 0; // when the latest key was pressed
  let claimHeld = false; // the N that claimed is still down: its repeats are no keys
  let timedOut = null; // the task whose latest submit's answer was lost
  let losses = 0; // how many submits' answers were lost, to know a beat or check sent after
  // The Idempotency-Key of the claim whose answer was lost: the next claim sends it again, and
  // gets what that one leased, if it went through. A fresh one for each claim after an answer.
  let claimKey = null;

  // The API

  async function api(method, path, payload, headers = {}) {
    const options = {
      method, headers: { ...PAGE_HEADER, ...headers }, credentials: "same-origin",
    };
    if (payload !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload);
    }
    const response = await fetch(path, options);
    const type = response.headers.get("content-type") || "";
    // A 204 (a give-back's) has no body, whatever its content type says.
    const text = await response.text();
    const answer = type.includes("json") && text ? JSON.parse(text) : text;
    // How far the server's clock (its Date, to the second) is ahead of this computer's: an
    // instant the server gives is read as this computer's instant less it.
    const served = Date.parse(response.headers.get("date") || "");
    const skew = Number.isNaN(served) ? 0 : served - Date.now();
    const replayed = response.headers.get("idempotent-replayed") === "true";
    return { status: response.status, body: answer, skew, replayed };
  }

  function say(text, isError = false, of = null) {
    $("status").textContent = text;
    $("status").classList.toggle("error", isError);
    statusOf = of;
  }

  // What a check or a submit found wrong: said until a later check finds it no longer is.
  function sayFound(text) {
    say(text, true, "found");
  }

  // Whether an answer is the service's own problem (JSON, with its words), not a proxy's page.
  const isProblem = (answer) => Boolean(answer && typeof answer === "object" && answer.detail);

  // A success status with no JSON, from a route that answers JSON: a proxy's page (its sign-in
  // page, which its session's end redirected to, say), not the service's word. It says as
  // little of what the service did as a proxy's page on an error status does.
  const foreign = (status, answer) => status < 300 && status !== 204
    && (answer === null || typeof answer !== "object");

  // An answer by its status alone: a success status with a proxy's page said as such.
  const statusText = (status, answer) => `the service answered ${status}`
    + (foreign(status, answer) ? " with a page that is not its own" : "");

  // What an answer other than the one hoped for says: a problem's own words; anything else (a
  // proxy's page while the service is away, say) by its status alone.
  function problemText(status, answer) {
    return isProblem(answer) ? answer.detail : statusText(status, answer);
  }

  const mostLikelySubmitted = (id) => `Task ${id.slice(-8)} was most likely submitted: the `
    + "submit before went through, though its answer was lost.";

  // Why the task is gone (a beat, a check or a submit answered 409 or 404): once a submit's
  // answer was lost, that submit most likely went through, whatever finds it.
  // A beat or check that finds it gone while its submit is on its way leaves it to the
  // submit's answer: that submit may be what closed it.
  function goneText(id, status, answer) {
    return id === timedOut ? mostLikelySubmitted(id) : problemText(status, answer);
  }

  // A beat or check answered 200, sent after the task's submit's answer was lost (and before
  // any other was), found the task still held: that submit did not take it, and the lease's
  // end, if it comes, sends the task back to the queue.
  function stillHeld(id, lossesBefore) {
    if (id === timedOut && losses === lossesBefore) timedOut = null;
  }

  // Refused (403, the service's own problem: a proxy's page is no such word) as one who may
  // not work any more (suspended, say): the service gave back every task they held, so this
  // one is closed, saying why, as nothing keyed on it can be sent.
  function withdrawn(id, status, answer) {
    close(`Task ${id.slice(-8)} closed: ${problemText(status, answer)}. It went back to the `
      + "queue; what was keyed on it cannot be sent.", { isError: true });
  }

  // Signed out meanwhile: a reload would lose the entries, which go once the keyer has signed
  // in again elsewhere, as long as the task is still theirs. No beat renews the lease while
  // signed out, so that is until the lease's end; and a sign-out in another tab gave the task
  // back at once. Said until a check or a beat gets through.
  function signedOut() {
    say("Signed out: sign in again in another tab, then send the entries kept here with "
      + `Ctrl+Enter before the lease ends at ${clockTime(leaseExpiresAt)}. If you signed out in `
      + "another tab, the task went back to the queue then.", true, "signed out");
  }

  // An instant as this computer's clock shows it, to the minute (14:05).
  function clockTime(ms) {
    const at = new Date(ms);
    return `${String(at.getHours()).padStart(2, "0")}:${String(at.getMinutes()).padStart(2, "0")}`;
  }

  // The service away or busy, or a proxy answering for it: what it refused may be asked for
  // again in a moment.
  const passing = (status, answer) => status >= 500 || status === 429 || foreign(status, answer);

  // An answer lost on its way back (a gateway that gave up waiting, a proxy whose connection
  // to the service closed, a proxy's page in its place): only the service's own problem says
  // that nothing was done, as the service rolls back before sending one.
  const lost = (status, answer) => status === 504 || (status >= 500 && !isProblem(answer))
    || foreign(status, answer);

  // A fresh key, from a random source a page served over plain HTTP has too.
  const newKey = () => Array.from(
    crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");

  // Claiming and the lease

  async function claim() {
    if (task || claiming) return;
    claiming = true;
    let afresh = false;
    $("claim").disabled = true;
    say("Looking for work…");
    performance.mark("claim-start");
    try {
      // After a lost answer, the same claim again: the service may have leased a task, which
      // the key gives back, rather than leave it held by nobody until its lease ends.
      const again = claimKey !== null;
      claimKey ??= newKey();
      let claimed;
      try {
        const keyed = { "Idempotency-Key": claimKey };
        claimed = await api("POST", "/v1/tasks/claim", { limit: 1 }, keyed);
      } catch {
        say("No task known to be taken: the service could not be reached. Try again with N.",
          true);
        return;
      }
      const { status, body: answer, skew, replayed } = claimed;
      if (status === 401) { window.location.assign("/work/login"); return; }
      if (status === 503 && again && isProblem(answer)) {
        // The lost claim still being made (or the service away): still not known.
        say("No task known to be taken: the last claim is not answered yet. Try again with N "
          + "in a moment.", true);
        return;
      }
      if (status !== 200 || foreign(status, answer)) {
        const retry = passing(status, answer) ? " Try again with N." : "";
        const known = lost(status, answer) || again ? " known to be" : "";
        say(`No task${known} taken: ${problemText(status, answer)}.${retry}`, true);
        return;
      }
      claimKey = null;
      // The lost claim's task is the keyer's no longer (its lease ran out while they were
      // away), or it took none: that says nothing of the queue, so a fresh claim at once.
      afresh = replayed && !answer.tasks.length;
      if (afresh) return;
      if (!answer.tasks.length) {
        $("idle-text").textContent = "No work right now. Try again in a moment.";
        say("No task available.");
        return;
      }
      performance.mark("claimed");
      open(answer.tasks[0], skew);
      // The lost claim's task has been leased since that claim: a beat at once renews its
      // lease, or says it is gone.
      if (again) heartbeat();
    } finally {
      claiming = false;
      $("claim").disabled = false;
      if (afresh) claim();
    }
  }

  // The task's form at once; its instructions and page images come while the keyer keys (a
  // submit meanwhile takes the next task, the one before's images no longer awaited).
  function open(claimed, skew) {
    task = claimed;
    delete body.dataset.painted;
    leaseExpiresAt = Date.parse(task.lease_expires_at) - skew;
    activeSeconds = 0;
    visited = new Set();
    keyed = false;
    giveBackAskedAt = 0; // a question asked about the task before is no answer about this one
    lastInput = Date.now();
    beatSkipped = false;
    body.dataset.state = "working";
    body.dataset.kind = task.kind;
    $("idle").hidden = true;
    $("task").hidden = false;
    const kinds = { entry: "Key", review: "Review", adjudication: "Adjudicate" };
    $("task-title").textContent = `${kinds[task.kind] || task.kind}: ${task.work_type}`;
    $("submit").disabled = submitting.has(task.id);
    $("unreadable").hidden = task.kind !== "entry";
    $("reject").hidden = task.kind === "entry";
    showKeyedNote();
    showWhyReviewed();
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
    showInstructions();
    openDocuments();
  }

  // `byKeyer`: the keyer closed it (a give-back, a submit), and "Next task" takes the focus.
  // Else the service did (the lease ran out, the task was taken away) while the keyer may be
  // keying on: the focus goes to the idle text, where Enter clicks nothing, and N claims only
  // after a pause in the keys.
  function close(message, { isError = false, byKeyer = false } = {}) {
    task = null;
    closeReason();
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
    wordsByPage.clear();
    lastField = null;
    clearViewer();
    say(message, isError);
    takenAway = !byKeyer;
    (byKeyer ? $("claim") : $("idle-text")).focus();
  }

  // The lease is kept while the keyer works, whether or not this tab is the one shown (they
  // may be reading a register in another); away longer than a lease, it runs out. A beat that
  // does not get through is tried again in a few seconds.
  async function heartbeat() {
    clearTimeout(heartbeatRetry); // one beat at a time, however it was started
    heartbeatRetry = null;
    if (!task) return;
    beatSkipped = Date.now() - lastInput > leaseSeconds * 1000;
    if (beatSkipped) return; // away: let the lease run out
    beatAt = Date.now();
    const id = task.id;
    const lossesBefore = losses;
    let answered;
    try {
      answered = await api("POST", `/v1/tasks/${id}/heartbeat`);
    } catch {
      beatFailing = true;
      heartbeatRetry = setTimeout(heartbeat, HEARTBEAT_RETRY_MS); // the network: once more
      return;
    }
    const { status, body: answer, skew } = answered;
    beatFailing = passing(status, answer);
    if (!task || task.id !== id) return;
    if (beatFailing) {
      heartbeatRetry = setTimeout(heartbeat, HEARTBEAT_RETRY_MS);
    } else if (status === 200) {
      leaseExpiresAt = Date.parse(answer.lease_expires_at) - skew;
      stillHeld(id, lossesBefore);
      // Renewed: no longer about to end, and the keyer signed in.
      if (statusOf === "lease" || statusOf === "signed out") say("");
    } else if (status === 409 || status === 404) {
      if (!submitting.has(id)) close(goneText(id, status, answer), { isError: true });
    } else if (status === 403 && isProblem(answer)) {
      if (!submitting.has(id)) withdrawn(id, status, answer);
    } else if (status === 401) signedOut();
    else say(problemText(status, answer), true);
  }

  // Input. Back after a spell away that skipped beats, the next beat may come too late (with
  // two skipped, it is due as the lease ends): so input after a skipped beat, or with less
  // than a beat's interval of the lease left, renews the lease at once (once in a few seconds,
  // however many keys come).
  function active() {
    lastInput = Date.now();
    if (!task || lastInput - beatAt < HEARTBEAT_RETRY_MS) return;
    if (beatSkipped || leaseExpiresAt - lastInput < BEAT_MS) heartbeat();
  }

  function tick() {
    if (!task) return;
    if (document.hasFocus() && Date.now() - lastInput < IDLE_AFTER_MS) activeSeconds += 1;
    const left = Math.round((leaseExpiresAt - Date.now()) / 1000);
    if (left <= 0) {
      // After a submit whose answer was lost, nothing since said the task was still open:
      // that submit most likely took it, and the lease it had is all that ran out.
      close(task.id === timedOut ? mostLikelySubmitted(task.id)
        : "The lease ran out; the task went back to the queue.", { isError: true });
      return;
    }
    const minutes = Math.floor(left / 60);
    $("lease").textContent = `Lease ${minutes}:${String(left % 60).padStart(2, "0")}`;
    $("lease").classList.toggle("expiring", left < 60);
    // Signed out, only signing in again keeps it, which the status line says already. With
    // the beats failing, keying on renews nothing: only the service back in reach does.
    if (left === 59 && statusOf !== "signed out") {
      say(beatFailing ? `The lease ends in a minute, at ${clockTime(leaseExpiresAt)}: the `
        + "service cannot be reached to renew it."
        : "The lease ends in a minute: keep working to keep it.", true, "lease");
    }
  }

  // With entries keyed, a give-back loses them: it is asked for twice (the key again, or the
  // button) within a few seconds.
  function release() {
    if (!task) return;
    if (keyed && Date.now() - giveBackAskedAt > GIVE_BACK_AGAIN_MS) {
      giveBackAskedAt = Date.now();
      say("Giving the task back loses your entries: Alt+Q again to give it back.", true);
      return;
    }
    giveBackAskedAt = 0;
    const id = task.id;
    close("Task given back.", { byKeyer: true });
    // Out of reach, or failing: the keyer is told, and the lease runs out in its own time.
    const kept = () => say(`Task ${id.slice(-8)} could not be given back: it goes back to the `
      + "queue when its lease runs out.", true);
    // Any refusal but "no such lease" (404, 409: it is not held any more) and the service's
    // 403 (one who may not work any more: it gave every task back) leaves it held: one signed
    // out (401), a limit (429), a proxy whose service is away (502, 503), and a proxy's page
    // on a success status (its sign-in page: the give-back never reached the service).
    const gone = (status, answer) => status === 404 || status === 409
      || (status === 403 && isProblem(answer));
    api("POST", `/v1/tasks/${id}/release`).then(({ status, body: answer }) => {
      if ((status >= 400 && !gone(status, answer)) || foreign(status, answer)) kept();
      else if (status === 403) say(`Task ${id.slice(-8)} went back: ${problemText(status, answer)}.`, true);
    }, kept);
  }

  // A partial second keying: the form has only the fields validation doubts the first keying
  // on (claim gives only those in `fields`); the page says so.
  function showKeyedNote() {
    const only = Boolean(task.keyed_fields);
    $("keyed-note").hidden = !only;
    $("keyed-note").textContent = only
      ? `Second keying of ${task.fields.map(labelOf).join(", ")} only: the first keying's `
        + "other fields stand."
      : "";
  }

  // Why validation asked for this review or adjudication (a reference check that failed, a
  // field the verifier changed, keyings that differ): what to look at first. As text: a
  // reason may quote a keyed value, markup and all.
  function showWhyReviewed() {
    $("review-reason").hidden = !task.reason;
    $("review-reason").textContent = task.reason ? `Why this ${task.kind}: ${task.reason}` : "";
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
    $("fields").replaceChildren(...task.fields.map(
      (spec) => (spec.type === "table" ? tableField(spec) : scalarField(spec))));
  }

  function scalarField(spec) {
    const row = document.createElement("div");
    row.className = "field";
    row.dataset.field = spec.name;
    const id = `field-${spec.name}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.append(labelOf(spec), ...requiredMark(spec));
    const input = inputFor(spec);
    input.id = id;
    input.name = spec.name;
    const described = [];
    row.append(label, input);
    if (spec.help) {
      row.append(note("help", `${id}-help`, spec.help));
      described.push(`${id}-help`);
    }
    row.append(note("field-error", `${id}-error`));
    described.push(`${id}-error`);
    input.setAttribute("aria-describedby", described.join(" "));
    return row;
  }

  const labelOf = (spec) => spec.label || spec.name;

  function requiredMark(spec) {
    if (spec.required === false) return [];
    const mark = document.createElement("span");
    mark.className = "required";
    mark.textContent = " *";
    mark.setAttribute("aria-hidden", "true");
    return [mark];
  }

  function note(className, id, text = "") {
    const small = className === "help" || className === "suggestion";
    const element = document.createElement(small ? "small" : "div");
    element.className = className;
    element.id = id;
    element.textContent = text;
    // A field's error comes as the keyer leaves it, for the next: a screen reader says it.
    if (className === "field-error") element.setAttribute("aria-live", "polite");
    return element;
  }

  // The input of a field, or of a table's column: a choice, or text typed to the field.
  function inputFor(spec) {
    const input = spec.type === "enum" || spec.type === "boolean"
      ? choice(spec) : document.createElement("input");
    if (input.tagName === "INPUT") {
      const kind = INPUTS[spec.type] || { type: "text" };
      input.type = kind.type;
      if (kind.inputMode) input.inputMode = kind.inputMode;
      input.autocomplete = "off";
      input.spellcheck = false;
    }
    if (spec.required !== false) input.setAttribute("aria-required", "true");
    return input;
  }

  // Table fields: a grid with a row of inputs per row of the table. The row keys act on the
  // row in focus, and the focus keeps its column when rows are added, moved or removed.

  const ROW_LIMIT = 500; // a table's rows when its spec sets no max_rows, as the server says
  const ROW_BUTTONS = [
    { action: "add", text: "+", what: "Add a row below row", keys: "Alt+Insert" },
    { action: "up", text: "\u2191", what: "Move up row", keys: "Alt+Shift+ArrowUp" },
    { action: "down", text: "\u2193", what: "Move down row", keys: "Alt+Shift+ArrowDown" },
    { action: "remove", text: "\u00d7", what: "Remove row", keys: "Alt+Delete" },
  ];
  let cellCount = 0; // for the ids of the cells' error notes, which move with their rows

  const specOf = (name) => task.fields.find((spec) => spec.name === name);
  const isTable = (name) => (specOf(name) || {}).type === "table";
  const rowLimit = (spec) => spec.max_rows ?? ROW_LIMIT;
  const fieldBox = (name) => $("fields").querySelector(`[data-field="${CSS.escape(name)}"]`);
  const gridOf = (name) => fieldBox(name).querySelector("tbody");
  const cellsOf = (row) => [...row.querySelectorAll("td[data-column]")];
  const fieldOf = (input) => input.dataset.table || input.name;

  function tableField(spec) {
    const id = `field-${spec.name}`;
    const box = document.createElement("div");
    box.className = "field table-field";
    box.dataset.field = spec.name;
    box.setAttribute("role", "group");
    box.setAttribute("aria-labelledby", `${id}-label`);
    const label = note("table-label", `${id}-label`, labelOf(spec));
    label.append(...requiredMark(spec));
    const grid = document.createElement("tbody");
    grid.dataset.table = spec.name;
    const table = document.createElement("table");
    table.className = "grid";
    table.append(gridHead(spec), grid);
    const scroller = document.createElement("div");
    scroller.className = "grid-box";
    scroller.append(table);
    box.append(label, scroller);
    const described = [`${id}-keys`];
    if (spec.help) {
      box.append(note("help", `${id}-help`, spec.help));
      described.unshift(`${id}-help`);
    }
    const limit = spec.max_rows ? ` At most ${spec.max_rows} rows.` : "";
    const keys = "Alt+Insert (or Alt+I) adds a row below, Alt+Delete removes it, "
      + `Alt+Shift+\u2191/\u2193 moves it.${limit}`;
    box.append(note("help", `${id}-keys`, keys), note("field-error", `${id}-error`));
    box.setAttribute("aria-describedby", described.join(" "));
    const rows = Math.max(spec.min_rows || 0, 1);
    for (let n = 0; n < rows; n += 1) grid.append(gridRow(spec));
    renumber(grid, spec);
    return box;
  }

  function gridHead(spec) {
    const head = document.createElement("thead");
    const row = document.createElement("tr");
    const number = headCell("row-number", "#");
    number.setAttribute("aria-label", "Row");
    const actions = headCell("row-actions", "");
    actions.append(note("visually-hidden", `field-${spec.name}-actions`, "Row actions"));
    row.append(number, ...spec.columns.map((column) => {
      const cell = headCell("", labelOf(column));
      cell.append(...requiredMark(column));
      return cell;
    }), actions);
    head.append(row);
    return head;
  }

  function headCell(className, text) {
    const cell = document.createElement("th");
    cell.scope = "col";
    if (className) cell.className = className;
    cell.textContent = text;
    return cell;
  }

  function gridRow(spec) {
    const row = document.createElement("tr");
    const number = document.createElement("th");
    number.scope = "row";
    number.className = "row-number";
    row.append(number);
    spec.columns.forEach((column) => {
      const cell = document.createElement("td");
      cell.dataset.column = column.name;
      const input = inputFor(column);
      input.dataset.table = spec.name;
      cellCount += 1;
      const error = note("cell-error", `cell-${cellCount}-error`);
      input.setAttribute("aria-describedby", `${error.id} field-${spec.name}-error`);
      cell.append(input, error);
      row.append(cell);
    });
    const actions = document.createElement("td");
    actions.className = "row-actions";
    actions.append(...ROW_BUTTONS.map(({ action, text, keys }) => {
      const button = document.createElement("button");
      button.type = "button";
      button.tabIndex = -1; // Tab goes from cell to cell; the keys do what these do
      button.dataset.action = action;
      button.textContent = text;
      button.setAttribute("aria-keyshortcuts", keys);
      return button;
    }));
    row.append(actions);
    return row;
  }

  // Row numbers, the cells' names and labels, and which row buttons work, after a change.
  function renumber(grid, spec = specOf(grid.dataset.table)) {
    const rows = [...grid.rows];
    const full = rows.length >= rowLimit(spec);
    rows.forEach((row, i) => {
      const n = i + 1;
      const disabled = { add: full, up: n === 1, down: n === rows.length, remove: false };
      row.cells[0].textContent = String(n);
      cellsOf(row).forEach((cell, j) => {
        const input = cell.firstElementChild;
        input.name = `${spec.name}[${i}].${cell.dataset.column}`;
        input.setAttribute("aria-label", `${labelOf(spec)} row ${n} ${labelOf(spec.columns[j])}`);
      });
      row.querySelectorAll(".row-actions button").forEach((button) => {
        const { what, keys } = ROW_BUTTONS.find((b) => b.action === button.dataset.action);
        button.disabled = disabled[button.dataset.action];
        button.setAttribute("aria-label", `${what} ${n}`);
        button.title = button.dataset.action === "add" && full
          ? `At most ${rowLimit(spec)} rows` : `${what} ${n} (${keys.replaceAll("+", " + ")})`;
      });
    });
  }

  const ROW_ACTIONS = {
    add: addRowBelow,
    remove: removeRow,
    up: (row, column) => moveRow(row, column, -1),
    down: (row, column) => moveRow(row, column, 1),
  };

  function addRowBelow(row, column) {
    const grid = row.parentElement;
    const spec = specOf(grid.dataset.table);
    if (grid.rows.length >= rowLimit(spec)) {
      say(`${labelOf(spec)} has at most ${rowLimit(spec)} rows: no row can be added.`, true);
      return;
    }
    const added = gridRow(spec);
    row.after(added);
    rowsChanged(grid, added, column);
  }

  // The last row is emptied rather than removed: a table always has a row to key into.
  function removeRow(row, column) {
    const grid = row.parentElement;
    if (grid.rows.length === 1) {
      cellsOf(row).forEach((cell) => { cell.firstElementChild.value = ""; });
      rowsChanged(grid, row, column);
      return;
    }
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    rowsChanged(grid, next, column);
  }

  function moveRow(row, column, step) {
    const grid = row.parentElement;
    const other = step < 0 ? row.previousElementSibling : row.nextElementSibling;
    if (!other) {
      say(`Row ${row.sectionRowIndex + 1} is already the ${step < 0 ? "first" : "last"}.`);
      return;
    }
    // The other row moves: the one in focus never leaves the page, which would blur it.
    if (step < 0) row.after(other);
    else row.before(other);
    rowsChanged(grid, row, column);
  }

  // A block of cells pasted into a table's cell (from a spreadsheet or a page: a tab between
  // cells, a line a row) fills the table from that cell rightwards and down, adding the rows
  // it needs. What a cell cannot take (a choice it does not offer, by value or as shown, a
  // date not as YYYY-MM-DD) keeps the cell as it was; that, cells past the last column, rows
  // past the table's limit and cells that held something before are said.
  function pasteBlock(cell, text) {
    const lines = text.replace(/\r\n?/g, "\n").replace(/\n+$/, "").split("\n");
    const grid = cell.closest("tbody");
    const spec = specOf(grid.dataset.table);
    const first = cellsOf(cell.parentElement).indexOf(cell);
    const refused = [];
    let replaced = 0;
    let row = cell.parentElement;
    for (const [r, line] of lines.entries()) {
      if (r > 0 && !row.nextElementSibling && grid.rows.length >= rowLimit(spec)) {
        refused.push(`${lines.length - r} row(s) past the table's ${rowLimit(spec)}`);
        break;
      }
      if (r > 0) {
        if (!row.nextElementSibling) row.after(gridRow(spec));
        row = row.nextElementSibling;
      }
      const n = row.sectionRowIndex + 1;
      const cells = cellsOf(row).slice(first);
      const values = line.split("\t").map((value) => value.trim());
      if (values.length > cells.length) {
        refused.push(`row ${n}: ${values.length - cells.length} cell(s) past the last column`);
      }
      values.slice(0, cells.length).forEach((value, c) => {
        const input = cells[c].firstElementChild;
        const before = input.value;
        if (!put(input, value)) {
          refused.push(`row ${n} ${labelOf(spec.columns[first + c])}: "${value}"`);
          return;
        }
        if (before && before !== input.value) replaced += 1;
      });
    }
    renumber(grid, spec);
    const over = replaced ? ` (${replaced} cell(s) that held something replaced)` : "";
    say(refused.length ? `Not pasted: ${refused.join("; ")}.${over}`
      : `${lines.length} row(s) pasted${over}.`, refused.length > 0);
    if (visited.has(spec.name)) checkVisited();
  }

  // A text put in a field as if keyed (a choice by what it is or shows); false, the field as it
  // was, when the field cannot take it (a date not written as one, no such choice).
  function put(input, text) {
    const before = input.value;
    const taken = input.tagName === "SELECT" ? optionFor(input, text) : text;
    input.value = taken;
    if (input.value !== taken || (text && !taken)) {
      input.value = before;
      return false;
    }
    input.dispatchEvent(new Event("input", { bubbles: true }));
    return true;
  }

  // The value of the choice a pasted text names, by its value or as it is shown, in any case.
  function optionFor(select, text) {
    const wanted = text.toLowerCase();
    const found = [...select.options].find((option) => option.value
      && (option.value.toLowerCase() === wanted || option.textContent.toLowerCase() === wanted));
    return found ? found.value : "";
  }

  function rowsChanged(grid, row, column) {
    keyed = true;
    renumber(grid);
    const cell = cellsOf(row).find((c) => c.dataset.column === column) || cellsOf(row)[0];
    cell.firstElementChild.focus();
    if (visited.has(grid.dataset.table)) checkVisited(); // the server's paths moved too
  }

  // A table's value: its rows, each column -> text as keyed; empty rows at the end are left
  // out, and a table with no row keyed is empty (null), as an empty field is.
  function tableValue(name) {
    const rows = [...gridOf(name).rows].map((row) => Object.fromEntries(
      cellsOf(row).map((cell) => [cell.dataset.column, cell.firstElementChild.value])));
    const blank = (row) => Object.values(row).every((text) => !text.trim());
    while (rows.length && blank(rows.at(-1))) rows.pop();
    return rows.length ? rows : null;
  }

  // Rows already keyed (by the keyings a review starts from) put in the grid.
  function fillTable(spec, rows) {
    const grid = gridOf(spec.name);
    const count = Math.max(rows.length, spec.min_rows || 0, 1);
    grid.replaceChildren(...Array.from({ length: count }, () => gridRow(spec)));
    rows.forEach((values, i) => {
      cellsOf(grid.rows[i]).forEach((cell) => {
        const column = cell.dataset.column;
        cell.firstElementChild.value = shown((values || {})[column], columnOf(spec, column));
      });
    });
    renumber(grid, spec);
  }

  // Machine pre-fill of the scalar fields (extraction suggests no table).
  function prefill() {
    if (task.kind !== "entry") return;
    Object.entries(task.suggestions || {}).forEach(([name, suggestion]) => {
      const input = !isTable(name) && $(`field-${name}`);
      if (!input) return;
      input.value = shown(suggestion.value, specOf(name));
      const row = input.closest(".field");
      const sure = suggestion.confidence >= SURE;
      row.classList.add(sure ? "suggested" : "unsure");
      const percent = Math.round(suggestion.confidence * 100);
      const hint = note("suggestion", `${input.id}-suggestion`, sure
        ? `Pre-filled (${percent} % sure): check it against the page.`
        : `Pre-filled, unsure (${percent} %): check it carefully.`);
      input.after(hint);
      input.setAttribute("aria-describedby",
        `${hint.id} ${input.getAttribute("aria-describedby")}`);
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
      if (isTable(name)) {
        data[name] = tableValue(name);
        return;
      }
      const input = $(`field-${name}`);
      if (input) data[name] = input.value;
    });
    return data;
  }

  // A date input left half keyed, or keyed as no calendar has it, reads as empty: sent, an
  // optional date would be lost without a word. Each such date as an error the form shows.
  function halfDates(names) {
    const message = "not a whole date: key its day, month and year";
    const half = (input) => input && input.type === "date" && input.validity.badInput;
    const errors = [];
    names.forEach((name) => {
      if (!isTable(name)) {
        if (half($(`field-${name}`))) errors.push({ field: name, message });
        return;
      }
      [...gridOf(name).rows].forEach((row, r) => cellsOf(row).forEach((cell) => {
        if (half(cell.firstElementChild)) {
          errors.push({ field: `${name}[${r}].${cell.dataset.column}`, message });
        }
      }));
    });
    return errors;
  }

  // Where the server puts an error: a field (`total`), a table's row (`lines[3]`) or cell
  // (`lines[3].qty`); a rule checked on each row of a table names the row in its message
  // ("rule not met on lines[3]: ...").
  function placeOf(error) {
    const path = error.field.replace(/^data\./, "");
    const onRow = /^rules\[\d+\]$/.test(path) && / on ([^\s[\]]+)\[(\d+)\]/.exec(error.message);
    if (onRow) return { name: onRow[1], row: Number(onRow[2]), column: null };
    const [, name = path, row, column = null] = /^([^[.]+)(?:\[(\d+)\](?:\.(.+))?)?$/.exec(path)
      || [];
    return { name, row: row === undefined ? null : Number(row), column };
  }

  // `only`: the fields a draft check covered; there only a cell keyed into shows its error
  // (not one a keyer passed through on the way to another: that waits for the submit).
  // Errors no field shows (a rule's) are said in the status line, else `summary`; with
  // neither, what a check or a submit said there before goes, as it no longer holds.
  function showErrors(errors, only, summary = "") {
    const placed = errors.map((error) => ({ error, place: placeOf(error) }));
    const shownErrors = new Set();
    task.fields.forEach((spec) => {
      if (only && !only.has(spec.name)) return;
      const mine = placed.filter(({ place }) => place.name === spec.name);
      const show = spec.type === "table" ? showTableErrors : showFieldError;
      show(spec, mine, Boolean(only)).forEach((error) => shownErrors.add(error));
    });
    const others = errors.filter((error) => !shownErrors.has(error));
    const text = others.map((error) => `${error.field}: ${error.message}`).join("; ") || summary;
    if (text) sayFound(text);
    else if (statusOf === "found" || statusOf === "signed out") say("");
  }

  function showFieldError(spec, placed) {
    const mine = placed.filter(({ place }) => place.row === null).map(({ error }) => error);
    const message = mine.length ? mine[0].message : "";
    const box = fieldBox(spec.name);
    box.classList.toggle("invalid", Boolean(message));
    box.querySelector(".field-error").textContent = message;
    $(`field-${spec.name}`).setAttribute("aria-invalid", message ? "true" : "false");
    return mine;
  }

  // A table's errors on their cells, on their rows (marked, and said below the grid with the
  // row's number as shown) or on the whole table; returns those it placed.
  function showTableErrors(spec, placed, draft) {
    const box = fieldBox(spec.name);
    clearTableErrors(box);
    const rows = [...gridOf(spec.name).rows];
    const notes = [];
    // A draft's error about the whole table (short of its rows, say) waits until the keyer
    // leaves the table: keying its first row, the rows still to come are no error yet.
    const inside = draft && box.contains(document.activeElement);
    const done = placed.filter(({ error, place }) => {
      const row = place.row === null ? null : rows[place.row];
      if (place.row === null) {
        if (inside) return true;
        box.classList.add("invalid");
        notes.unshift(error.message);
      } else if (!row) {
        return false; // a row the grid does not have (any more): said in the status line
      } else if (place.column === null) {
        markRow(row);
        notes.push(`Row ${place.row + 1}: ${error.message}`);
      } else {
        const cell = cellsOf(row).find((c) => c.dataset.column === place.column);
        if (!cell) return false;
        if (!draft || "keyed" in cell.firstElementChild.dataset) markCell(cell, error.message);
      }
      return true;
    });
    box.querySelector(".field-error").textContent = notes.join("\n");
    return done.map(({ error }) => error);
  }

  function clearTableErrors(box) {
    box.classList.remove("invalid");
    box.querySelectorAll("tbody .invalid").forEach((element) => {
      element.classList.remove("invalid");
    });
    box.querySelectorAll(".cell-error").forEach((element) => { element.textContent = ""; });
    box.querySelectorAll("tbody input, tbody select").forEach((input) => {
      input.setAttribute("aria-invalid", "false");
    });
  }

  function markRow(row) {
    row.classList.add("invalid");
    cellsOf(row).forEach((cell) => cell.firstElementChild.setAttribute("aria-invalid", "true"));
  }

  function markCell(cell, message) {
    if (cell.classList.contains("invalid")) return; // the first error of a cell is enough
    cell.classList.add("invalid");
    cell.querySelector(".cell-error").textContent = message;
    cell.firstElementChild.setAttribute("aria-invalid", "true");
  }

  let checks = 0; // the latest check's number: an earlier answer arriving late is not shown

  async function checkVisited() {
    if (!task || !visited.size) return;
    const checking = task;
    const number = ++checks;
    const lossesBefore = losses;
    const answered = await api(
      "POST", `/v1/tasks/${task.id}/check`, { data: values([...visited]) }).catch(() => null);
    if (checking !== task || number !== checks) return;
    const kept = " Your entries are kept, and checked again as you leave a field.";
    if (!answered) {
      sayFound(`Not checked: the service could not be reached.${kept}`);
      return;
    }
    const { status, body: answer } = answered;
    if (status === 401) {
      signedOut();
      return;
    }
    const refused = status === 403 && isProblem(answer); // the service's, not a proxy's page
    const checked = status === 200 && !foreign(status, answer);
    if (status === 413) {
      sayFound(`Not checked: ${tooLarge(answer)}`);
      return;
    }
    if (!checked && !refused && status !== 404 && status !== 409) {
      sayFound(`Not checked: ${problemText(status, answer)}.${kept}`);
      return;
    }
    if (status === 200) {
      stillHeld(checking.id, lossesBefore);
      // A date keyed half reads as empty: said as such, not as "required".
      const half = halfDates([...visited]);
      const halfOn = new Set(half.map((error) => error.field));
      showErrors([...half, ...answer.errors.filter((error) => !halfOn.has(error.field))], visited);
    } else if (!submitting.has(checking.id)) {
      if (status === 403) withdrawn(checking.id, status, answer);
      else close(goneText(checking.id, status, answer), { isError: true });
    }
  }

  const KEPT = " Your entries are kept; send them again with Ctrl+Enter.";

  // A request refused as too large (413): by the service, in its own words; by a proxy in
  // front of it (ingress-nginx takes 1 MiB by default, less than a keying may be), as such.
  // Sent again, it meets the same limit, which only those who run the service can raise.
  function tooLarge(answer) {
    const why = isProblem(answer) ? answer.detail : "the request is larger than something "
      + "between this page and the service accepts (it answered 413)";
    return `${why}. Your entries are kept; tell a manager, as sending them again meets the same `
      + "limit.";
  }

  // A submit whose answer was lost (see `lost`), or that had none (the network gone), may
  // have been taken. Its task closed meanwhile (the lease ran out as the page counts it), the
  // last word on it may not stay that it went back to the queue.
  function unknown(id, why) {
    if (!task || task.id !== id) {
      say(`Task ${id.slice(-8)} is not known to be submitted: ${why}, and it may have gone `
        + "through.", true);
      return;
    }
    timedOut = id;
    losses += 1;
    say(`Not known to be sent: ${why}, and it may have gone through.${KEPT}`, true);
  }

  async function submit(extra) {
    if (!task || submitting.has(task.id)) return;
    const half = extra ? [] : halfDates(task.fields.map((spec) => spec.name));
    if (half.length) {
      task.fields.forEach((spec) => visited.add(spec.name));
      checks += 1; // a check still on its way is older than this
      showErrors(half, undefined, "A date is not whole: key its day, month and year.");
      const bad = $("fields").querySelector('input[aria-invalid="true"]');
      if (bad) bad.focus();
      return;
    }
    const id = task.id;
    submitting.add(id);
    const payload = { active_seconds: activeSeconds, ...extra };
    if (!extra) payload.data = values(task.fields.map((spec) => spec.name));
    $("submit").disabled = true;
    let next = false;
    try {
      const { status, body: answer } = await api("POST", `/v1/tasks/${id}/submit`, payload);
      // Meanwhile the task may have been closed (its lease ran out, a check found it gone) and
      // another opened: an answer about it acts on no other.
      const current = task && task.id === id;
      if (status === 202) {
        body.dataset.submitted = String(Number(body.dataset.submitted || 0) + 1);
        if (!current) {
          say(`Task ${id.slice(-8)} was submitted.`);
          return;
        }
        close("Submitted. Taking the next task…", { byKeyer: true });
        next = true;
        return;
      }
      if (!current) {
        if (lost(status, answer) && !foreign(status, answer)) {
          unknown(id, statusText(status, answer));
        }
        return;
      }
      // The service checked the entries of a task still open: a submit before was not taken.
      if (status === 422) timedOut = null;
      if (status === 422 && answer.errors) {
        task.fields.forEach((spec) => visited.add(spec.name));
        $("fields").querySelectorAll("tbody input, tbody select").forEach((input) => {
          input.dataset.keyed = ""; // a submit shows every cell's error, so do checks after it
        });
        checks += 1; // a check still on its way is older than this answer
        showErrors(answer.errors, undefined, answer.detail);
        const bad = $("fields").querySelector(".invalid input, .invalid select");
        if (bad) bad.focus();
        return;
      }
      if (status === 409 || status === 404) {
        close(goneText(id, status, answer), { isError: true });
        return;
      }
      if (status === 403 && isProblem(answer)) {
        withdrawn(id, status, answer);
        return;
      }
      if (status === 401) signedOut();
      else if (status === 413) say(`Not sent: ${tooLarge(answer)}`, true);
      else if (foreign(status, answer)) {
        // A proxy's page on a success status answered a submit that never reached the
        // service, which answers it with JSON and never redirects it (a proxy that sent it on
        // and lost its answer says so with 502 or 504): not sent, not "most likely submitted"
        // once the lease ends.
        say(`Not sent: something in front of the service answered ${status} for it with a `
          + `page of its own (sign in to it again in another tab?).${KEPT}`, true);
      } else if (lost(status, answer)) {
        unknown(id, statusText(status, answer));
      } else {
        const kept = passing(status, answer) ? KEPT : "";
        say(`Not sent: ${problemText(status, answer)}.${kept}`, true);
      }
    } catch {
      unknown(id, "no answer came");
    } finally {
      submitting.delete(id);
      $("submit").disabled = Boolean(task) && submitting.has(task.id);
      // Then the next task, which may be submitted as soon as it is open, its page images
      // still on their way.
      if (next) await claim();
    }
  }

  function nextField(from, step) {
    const all = [...$("fields").querySelectorAll("input, select")]
      .filter((input) => !input.disabled);
    const at = all.indexOf(from) + step;
    if (at < 0) return; // back from the first field: it stays in focus
    (all[at] || $("submit")).focus();
  }

  function askReason(kind) {
    if (!task) return;
    if (!reasonFor) beforeReason = document.activeElement;
    const again = reasonFor === kind; // asked for again: what is typed stays
    reasonFor = kind;
    $("reason-label").textContent = kind === "unreadable"
      ? "What can't be read?" : "Why reject this item?";
    $("reason-form").hidden = false;
    if (!again) $("reason").value = "";
    $("reason").focus();
  }

  // `back`: the focus returns where it was before the reason was asked for.
  function closeReason(back = false) {
    const open = reasonFor !== null;
    reasonFor = null;
    $("reason-form").hidden = true;
    if (back && open && beforeReason && beforeReason.isConnected) beforeReason.focus();
    beforeReason = null;
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

  // A value as the form shows it: what validation and the machine send is canonical (a
  // number's point is '.'), written back the way its field reads what is typed, for a field
  // whose point is ',' reads "1.759" as 1759.
  function shown(value, spec) {
    const text = value === null || value === undefined ? "" : String(value);
    return spec && spec.decimal_separator === "," ? text.replace(".", ",") : text;
  }

  const columnOf = (spec, name) => spec.columns.find((column) => column.name === name);

  const tableRows = (value) => (Array.isArray(value) ? value : []);

  // A table's rows as text, a line per row, its cells in the columns' order.
  const rowTexts = (spec, value) => tableRows(value).map((row) => spec.columns.map(
    (column) => shown((row || {})[column.name], column)).join(" \u00b7 "));

  // A keying's value as text; a table's a line per row.
  function shownValue(spec, value) {
    if (spec.type !== "table") return shown(value, spec);
    return rowTexts(spec, value).join("\n");
  }

  // A keying's value as validation compares it: a table with a key column by its rows, in
  // whatever order they were keyed.
  function comparedValue(spec, value) {
    if (spec.type !== "table" || !spec.key) return shownValue(spec, value);
    return rowTexts(spec, value).sort().join("\n");
  }

  // Where an adjudication's keyings differ, as validation compared them (rows aligned): a
  // field (`total`), a table's cell by the first keying's row (`lines[1].qty`), or a cell of a
  // row only a later keying has (`lines[2 of keying 2].qty`).
  function differingPlaces() {
    return (task.differing || []).map((path) => {
      const [, name = path, row, keying = "1", column = null] =
        /^([^[.]+)(?:\[(\d+)(?: of keying (\d+))?\]\.(.+))?$/.exec(path) || [];
      return { name, row: row === undefined ? null : Number(row), keying: Number(keying), column };
    });
  }

  // An entry under review by its number (from 1): a keying, or the first adjudicator's answer,
  // which a second adjudicator sees after the keyings; `heading`: as its column's head.
  function entryName(n, heading = false) {
    if (task.entries[n - 1].kind === "adjudication") {
      return heading ? "First adjudication" : "the first adjudication";
    }
    return `${heading ? "Keying" : "keying"} ${n}`;
  }

  function showEntries() {
    const table = $("entries");
    const entries = task.entries || [];
    table.hidden = !entries.length;
    if (!entries.length) return;
    const unreadable = entries.some((entry) => entry.unreadable);
    const adjudication = task.kind === "adjudication" && !unreadable;
    const places = adjudication ? differingPlaces() : [];
    const head = document.createElement("tr");
    ["Field", ...entries.map((_, n) => entryName(n + 1, true))].forEach((text) => {
      const cell = document.createElement("th");
      cell.scope = "col";
      cell.textContent = text;
      head.append(cell);
    });
    table.tHead.replaceChildren(head);
    const rows = task.fields.map((spec) => {
      const seen = entries.map((entry) => shownValue(spec, entry.data[spec.name]));
      // In an adjudication, where validation found the keyings differ: it compares values as
      // they mean, not as they are written. A review has no such places: its keyings are
      // compared here as shown, a keyed table's rows in any order (as validation has them).
      const differs = adjudication ? places.some((place) => place.name === spec.name)
        : new Set(entries.map((entry) => comparedValue(spec, entry.data[spec.name]))).size > 1;
      const cells = spec.type === "table"
        ? places.filter((place) => place.name === spec.name && place.row !== null) : [];
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
        } else if (spec.type === "table") {
          cell.append(...comparedRows(spec, entry.data[spec.name], cells, n + 1));
        } else cell.textContent = seen[n];
        row.append(cell);
      });
      // Where every keying agrees the form starts from their value; where they differ, empty,
      // but for a table whose differing cells are known: it starts from the first keying's.
      fieldBox(spec.name).classList.toggle("differs", differs && !cells.length);
      if (cells.length) startFromFirst(spec, tableRows(entries[0].data[spec.name]), cells);
      else if (!differs && !unreadable) {
        if (spec.type === "table") fillTable(spec, tableRows(entries[0].data[spec.name]));
        else $(`field-${spec.name}`).value = seen[0];
      }
      return row;
    });
    table.tBodies[0].replaceChildren(...rows);
  }

  // A keying's table in the comparison, a line per row: the cells where the keyings differ
  // marked, and a row only this keying has (not the first) marked and said as such.
  function comparedRows(spec, value, places, keying) {
    return tableRows(value).map((values, i) => {
      const line = document.createElement("div");
      const here = places.filter((place) => place.keying === keying && place.row === i);
      spec.columns.forEach((column, j) => {
        if (j) line.append(" \u00b7 ");
        const text = shown((values || {})[column.name], column);
        if (keying > 1 || !here.some((place) => place.column === column.name)) {
          line.append(text);
          return;
        }
        const mark = document.createElement("mark");
        mark.textContent = text;
        line.append(mark);
      });
      if (keying > 1 && here.length) {
        line.className = "only";
        const said = document.createElement("span");
        said.className = "only-note";
        said.textContent = ` (only ${entryName(keying)} has this row)`;
        line.append(said);
      }
      return line;
    });
  }

  // An adjudication of a table that differs starts from the first keying's rows, so that the
  // adjudicator fixes them rather than keys them again; each cell where the keyings differ is
  // marked, and rows only a later keying has are named under the grid.
  function startFromFirst(spec, rows, places) {
    fillTable(spec, rows);
    const grid = gridOf(spec.name);
    const box = fieldBox(spec.name);
    const id = `field-${spec.name}-differs`;
    box.append(note("visually-hidden", id, "the keyings differ here"));
    places.filter((place) => place.keying === 1).forEach(({ row, column }) => {
      const cell = grid.rows[row]
        && cellsOf(grid.rows[row]).find((c) => c.dataset.column === column);
      if (!cell) return;
      const input = cell.firstElementChild;
      cell.classList.add("differs");
      cell.title = "the keyings differ here";
      input.setAttribute("aria-describedby", `${id} ${input.getAttribute("aria-describedby")}`);
    });
    const only = [...new Set(places.filter((place) => place.keying > 1)
      .map(({ keying, row }) => `${entryName(keying)}'s row ${row + 1}`))];
    if (only.length) {
      const text = `Not in the first keying's rows: ${only.join(", ")} (marked in the keyings `
        + "above). Add what the page has.";
      box.append(note("help differs-note", `${id}-rows`, text));
    }
  }

  async function showInstructions() {
    const box = $("instructions-box");
    box.hidden = !task.instructions;
    if (!task.instructions) return;
    const shown = task;
    if (!instructionsHtml.has(shown.job_id)) {
      const answered = await api("POST", "/work/instructions", { markdown: shown.instructions })
        .catch(() => null); // the network: said as any other failure
      if (task !== shown) return;
      // Not the service's JSON (a proxy's page, its sign-in page on 200): not shown.
      const html = answered && answered.status === 200 && answered.body
        && typeof answered.body.html === "string" ? answered.body.html : null;
      if (html === null) {
        $("instructions").textContent = "The job's instructions could not be loaded: they are "
          + "asked for again with its next task.";
        return;
      }
      instructionsHtml.set(shown.job_id, html);
    }
    // Rendered by the server from Markdown with raw HTML escaped.
    $("instructions").innerHTML = instructionsHtml.get(shown.job_id);
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
    // At the page the focused field's value was read on, if it has one (the focus came
    // first, and pointed there before the documents were listed); else at the first.
    const mark = viewer.highlight;
    const marked = mark ? documents.findIndex((doc) => doc.id === mark.documentId) : -1;
    viewer.doc = Math.max(marked, 0);
    select.value = String(viewer.doc);
    viewer.rotation = 0;
    viewer.zoom = null;
    await showPage(marked >= 0 ? mark.page - 1 : 0);
    if (marked >= 0) scrollToHighlight();
  }

  // A page's image or words through its signed link. A link lasts minutes
  // (BPO_INTAKE_DOCUMENT_URL_TTL_S), a task may be held longer: once a link has expired (403),
  // the document is asked for again, as the task's holder, and its fresh links followed.
  async function pageFetch(doc, index, link) {
    const response = await fetch(doc.pages[index][link], { credentials: "same-origin" });
    if (response.status !== 403) return response;
    const answer = await api("GET", `/v1/documents/${doc.id}`);
    if (answer.status !== 200 || foreign(answer.status, answer.body)) {
      throw new Error(problemText(answer.status, answer.body));
    }
    doc.pages = answer.body.pages;
    return fetch(doc.pages[index][link], { credentials: "same-origin" });
  }

  // What a page link answers while what it links to is out of reach for a moment, to be asked
  // for again after its Retry-After: 503, the document store (a blip: the store restarting, a
  // bucket throttled); a proxy's 502 or 504, the service.
  const AWAY = new Set([502, 503, 504]);
  // A page's image is asked for again while it is still being rendered (409) too.
  const IMAGE_AGAIN = new Set([409, ...AWAY]);
  const ASKED_AT_MOST = 30; // times a page link is asked for before the keyer is told it failed

  // What the page's image or its words say of themselves, unless the status line holds what
  // the keyer must not lose (what a check found, a submit not known to be sent, the lease's
  // end, signed out): each line goes once what it is about comes, and that would go with it.
  const IMAGE_LINES = new Set(["page waiting", "page"]);
  const WORDS_LINES = new Set(["words waiting", "words"]);
  const PAGE_LINES = new Set([...IMAGE_LINES, ...WORDS_LINES]);
  function sayOfPage(text, of) {
    if ($("status").classList.contains("error") && !PAGE_LINES.has(statusOf)) return;
    say(text, true, of);
  }

  const awayText = (status) => (status === 503 ? "the document store is out of reach for now"
    : "the service cannot be reached for now");

  // A page link's answer, asked for again after its Retry-After (a second without one) while
  // it is one of `again`, at most ASKED_AT_MOST times; `waiting` is told each status waited
  // on. Null once another page, or no task, is asked for (`token`).
  async function pageAnswer(doc, index, link, token, again, waiting) {
    for (let asked = 1; ; asked += 1) {
      const response = await pageFetch(doc, index, link);
      if (token !== viewer.token) return null;
      if (response.ok || !again.has(response.status) || asked === ASKED_AT_MOST) return response;
      waiting(response.status);
      const wait = Number(response.headers.get("Retry-After")) || 1;
      await new Promise((resolve) => { setTimeout(resolve, wait * 1000); });
      if (token !== viewer.token) return null;
    }
  }

  // The page's image; null once another page, or no task, is asked for (`token`). While it is
  // still being rendered, the empty canvas says as much; while out of reach, the keyer is told.
  async function pageImage(doc, index, token) {
    const response = await pageAnswer(doc, index, "image_url", token, IMAGE_AGAIN, (status) => {
      if (status === 409) return;
      const again = `${doc.filename}: ${awayText(status)}; the page is asked for again.`;
      sayOfPage(again, "page waiting");
    });
    if (!response) return null;
    if (response.ok && answered(response, "image/")) {
      return createImageBitmap(await response.blob());
    }
    if (response.ok) throw new Error(statusText(response.status, null));
    if (response.status === 409) throw new Error("the page is still being rendered");
    if (AWAY.has(response.status)) throw new Error(awayText(response.status));
    throw new Error(await refusalText(response, "the page image", { undrawn: true }));
  }

  // Whether a page link's answer is of the kind asked for (not a proxy's page on 200).
  const answered = (response, kind) => (response.headers.get("content-type") || "").includes(kind);

  // A page link's refusal: the service's own words, else its status. A page image not found
  // (`undrawn`: a document that could not be drawn) names the way on: Can't read it, or a
  // review's Reject.
  async function refusalText(response, what, { undrawn = false } = {}) {
    let answer = null;
    if (answered(response, "json")) answer = await response.json().catch(() => null);
    if (!isProblem(answer)) return `${what} answered ${response.status}`;
    if (response.status !== 404 || !undrawn) return answer.detail;
    const way = task && task.kind !== "entry" ? "Alt+J (Reject)" : "Alt+U (Can't read it)";
    return `${answer.detail}. If the document cannot be read, press ${way}`;
  }

  async function showPage(number) {
    if (!task) return;
    const doc = task.documents[viewer.doc];
    if (!doc || !doc.pages.length) return;
    viewer.page = Math.max(0, Math.min(number, doc.pages.length - 1));
    viewer.words = null;
    $("page-label").textContent = `Page ${viewer.page + 1} of ${doc.pages.length}`;
    $("prev-page").disabled = viewer.page === 0;
    $("next-page").disabled = viewer.page === doc.pages.length - 1;
    const token = ++viewer.token;
    try {
      const bitmap = await pageImage(doc, viewer.page, token);
      if (token !== viewer.token) return; // another page, or no task, was asked for meanwhile
      viewer.bitmap = bitmap;
      if (IMAGE_LINES.has(statusOf)) say(""); // before the words, which may say their own
      if (viewer.showWords) await loadWords();
      if (token !== viewer.token) return;
      draw();
      $("page-canvas").setAttribute(
        "aria-label", `${doc.filename}, page ${viewer.page + 1} of ${doc.pages.length}`);
      if (!body.dataset.painted) performance.mark("painted");
      body.dataset.painted = `${doc.id}:${viewer.page + 1}`;
    } catch (error) {
      if (token === viewer.token) sayOfPage(`${doc.filename}: ${error.message}`, "page");
    }
  }

  // Where the focused field's value was read: the box drawn on its page, scrolled into view.
  async function pointAt(name) {
    const suggestion = task && task.kind === "entry" && !isTable(name)
      && (task.suggestions || {})[name];
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
    else if (WORDS_LINES.has(statusOf)) say(""); // the words put away, what they said goes
    draw();
  }

  async function loadWords() {
    const doc = task.documents[viewer.doc];
    const shown = `${doc.id}:${viewer.page}`;
    const token = viewer.token;
    if (!wordsByPage.has(shown)) {
      const away = (status) => `The page's words cannot be fetched: ${awayText(status)}`;
      let response;
      try {
        response = await pageAnswer(doc, viewer.page, "words_url", token, AWAY, (status) => {
          sayOfPage(`${away(status)}; they are asked for again.`, "words waiting");
        });
      } catch (error) {
        sayOfPage(`${doc.filename}: ${error.message}`, "words");
        viewer.words = null;
        return;
      }
      if (!response) return; // another page, or no task, asked for meanwhile
      if (!response.ok || !answered(response, "json")) {
        const { status } = response;
        let text = `The page's words: ${statusText(status, null)}.`;
        if (status === 409) text = "The page's words are still being read; try again in a moment.";
        else if (AWAY.has(status)) text = `${away(status)}.`;
        else if (!response.ok) text = `${await refusalText(response, "The page's words")}.`;
        sayOfPage(text, "words");
        viewer.words = null;
        return;
      }
      wordsByPage.set(shown, (await response.json()).words);
      if (token !== viewer.token) return;
    }
    if (WORDS_LINES.has(statusOf)) say(""); // fetched now or before: at hand
    viewer.words = wordsByPage.get(shown);
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
    // A text field takes the word after what it holds; a date or a choice takes it whole.
    const append = input.value && input.tagName === "INPUT" && input.type !== "date";
    if (!put(input, append ? `${input.value} ${hit.text}` : hit.text)) {
      say(`"${hit.text}" is not a value this field takes: key it.`, true);
    }
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

  // With Alt, in a table's cell: add, remove or move the row in focus.
  const ROW_KEYS = {
    Insert: "add",
    KeyI: "add",
    Delete: "remove",
    "Shift+ArrowUp": "up",
    "Shift+ArrowDown": "down",
  };

  function typing(target) {
    return target instanceof HTMLElement && target.matches("input, select, textarea");
  }

  // A letter's shortcut is the key marked with it, whatever the keyboard's layout (on AZERTY,
  // Alt+Q is the key marked Q): the letter it types (`event.key`), or where Alt types another
  // character (macOS's Option), the letter the layout gives its key (where the browser says:
  // Chromium). Other keys are known by their place (`event.code`).
  let layout = null;
  if (navigator.keyboard && navigator.keyboard.getLayoutMap) {
    // Refused (a page in a frame, say): the letters typed are all there is to go by.
    navigator.keyboard.getLayoutMap().then((map) => { layout = map; }, () => {});
  }
  const LETTER = /^[a-z]$/i;
  // Zoom's signs are the keys that type them too (on QWERTZ, '-' is where QWERTY has '/').
  const SIGNS = { "=": "Equal", "+": "Equal", "-": "Minus" };

  function keyOf(event) {
    if (SIGNS[event.key]) return SIGNS[event.key];
    const letter = LETTER.test(event.key) ? event.key : layout && layout.get(event.code);
    return letter && LETTER.test(letter) ? `Key${letter.toUpperCase()}` : event.code;
  }

  // A Mac's (or an iPad's), where Option and the arrows edit text.
  const onAMac = /mac/i.test(
    (navigator.userAgentData && navigator.userAgentData.platform) || navigator.platform || "");

  // Alt+Up and Alt+Down open a choice list or a date's picker: in those they are the field's.
  // On a Mac, in a text field, Option and an arrow move the caret by word or to the text's
  // ends (with Shift, select so): there every arrow is the field's.
  function fieldsOwn(event) {
    if (!/^Arrow/.test(event.key) || !(event.target instanceof HTMLElement)) return false;
    if (onAMac && event.target.matches("input:not([type=date]), textarea")) return true;
    return /^Arrow(Up|Down)$/.test(event.key) && event.target.matches("select, input[type=date]");
  }

  function rowKey(event) {
    const action = ROW_KEYS[`${event.shiftKey ? "Shift+" : ""}${keyOf(event)}`];
    const cell = action && typing(event.target) && event.target.closest(".table-field td");
    if (!cell) return false;
    ROW_ACTIONS[action](cell.parentElement, cell.dataset.column);
    return true;
  }

  document.addEventListener("keydown", (event) => {
    active();
    takenAway = takenAway && Date.now() - lastKeyAt < TYPED_ON_MS; // a pause: keys mean again
    lastKeyAt = Date.now();
    // Enter acts once however long it is held: its repeats would step on to Submit and click
    // it (or "Next task", or the list's Close), then run on through the task opened after.
    if (event.key === "Enter" && event.repeat) {
      event.preventDefault();
      return;
    }
    // The shortcuts' list open, the page behind it takes no key (Esc closes the list), and
    // its Alt keys are not the browser's either (Alt+← would be Back, leaving the page).
    if ($("help").open) {
      if (event.altKey && !event.ctrlKey && !event.metaKey && ALT_KEYS[keyOf(event)]) {
        event.preventDefault();
      }
      return;
    }
    // Held since it claimed, N claims once, and types nothing into the task it opened (whose
    // first field has the focus by then).
    if (claimHeld && event.repeat && keyOf(event) === "KeyN") {
      event.preventDefault();
      return;
    }
    if (event.altKey && !event.ctrlKey && !event.metaKey && rowKey(event)) {
      event.preventDefault();
      return;
    }
    if (event.altKey && !event.ctrlKey && !event.metaKey && ALT_KEYS[keyOf(event)]
      && !fieldsOwn(event)) {
      event.preventDefault();
      // A letter held down acts once (Alt+Q held would give a task back past its question);
      // arrows, pages and zoom repeat.
      if (event.repeat && keyOf(event).startsWith("Key")) return;
      ALT_KEYS[keyOf(event)]();
      return;
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (reasonFor) $("reason-form").requestSubmit();
      else if (task) submit();
      return;
    }
    // A plain Enter in the form moves to the next field (Shift+Enter: back), as Tab does: it
    // never submits (the browser would, from any field of the form).
    // (An input method's Enter confirms what it composed: Safari says so by keyCode 229.)
    const composing = event.isComposing || event.keyCode === 229;
    if (event.key === "Enter" && !event.altKey && !composing && typing(event.target)
      && event.target.closest("#fields")) {
      event.preventDefault();
      nextField(event.target, event.shiftKey ? -1 : 1);
      return;
    }
    if (event.key === "Escape" && reasonFor) { closeReason(true); return; }
    if (typing(event.target) || event.altKey || event.ctrlKey || event.metaKey) return;
    if (takenAway) return; // what was being keyed into the task taken away: no shortcut
    if (event.key === "?") { event.preventDefault(); $("help").showModal(); return; }
    if (keyOf(event) === "KeyN" && !task) {
      event.preventDefault();
      claimHeld = true;
      claim();
    }
  });
  document.addEventListener("keyup", (event) => {
    if (keyOf(event) === "KeyN") claimHeld = false;
  });
  ["pointerdown", "input", "wheel"].forEach((type) => {
    document.addEventListener(type, active, { passive: true });
  });
  $("fields").addEventListener("focusin", (event) => {
    if (!typing(event.target) || !task) return;
    lastField = event.target;
    const cell = event.target.closest(".table-field td");
    if (cell) cell.parentElement.parentElement.dataset.column = cell.dataset.column;
    pointAt(fieldOf(event.target));
  });
  // The row buttons, for the mouse: the focus stays in its cell, or goes to the column last
  // keyed in that table.
  $("fields").addEventListener("mousedown", (event) => {
    if (event.target.closest(".row-actions button")) event.preventDefault();
  });
  $("fields").addEventListener("click", (event) => {
    const button = event.target.closest(".row-actions button");
    if (!button || button.disabled) return;
    const row = button.closest("tr");
    ROW_ACTIONS[button.dataset.action](row, row.parentElement.dataset.column);
  });
  $("fields").addEventListener("paste", (event) => {
    const cell = typing(event.target) && event.target.closest(".table-field td");
    const text = event.clipboardData ? event.clipboardData.getData("text/plain") : "";
    if (!cell || !/[\t\r\n]/.test(text.replace(/[\r\n]+$/, ""))) return; // one value: as typed
    event.preventDefault();
    pasteBlock(cell, text);
  });
  $("fields").addEventListener("input", (event) => {
    keyed = true;
    event.target.dataset.keyed = ""; // a cell shows a draft check's error once keyed into
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
    visited.add(fieldOf(event.target));
    checkVisited();
  });
  $("entry").addEventListener("submit", (event) => { event.preventDefault(); submit(); });
  $("reason-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const reason = $("reason").value.trim();
    if (!reason) { $("reason").focus(); return; }
    // The form stays, with its reason, until the submit is taken (a new task closes it).
    submit(reasonFor === "unreadable" ? { unreadable: reason } : { reject: reason });
  });
  $("reason-cancel").addEventListener("click", () => closeReason(true));
  $("reason").addEventListener("input", () => { keyed = true; });
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
  // Leaving the page with entries not sent, or a submit not yet answered, asks first (the
  // browser's own question); left, the page gives the task back at once rather than when the
  // lease runs out. A task whose submit is on its way is left to that submit: given back under
  // it, the submit would find no lease and the keying be lost (not landed, the lease ends).
  window.addEventListener("beforeunload", (event) => {
    if (!task || !(keyed || submitting.has(task.id))) return;
    event.preventDefault();
    event.returnValue = ""; // what browsers before Chromium 119 ask for
  });
  window.addEventListener("pagehide", () => {
    if (task && !submitting.has(task.id)) {
      fetch(`/v1/tasks/${task.id}/release`, {
        method: "POST", headers: PAGE_HEADER, credentials: "same-origin", keepalive: true,
      });
    }
  });
  setInterval(tick, 1000);
  setInterval(heartbeat, BEAT_MS);
  $("claim").focus();
})();
