/* posgraph workbench: the reviewer's side (review queue, accept / reject, revert with its preview) and history
   (per batch and per entity). Plain JavaScript on window.posgraphWorkbench (workbench.js, loaded first): every
   request goes through its api() (bearer token, this origin only), every element through its el() (text nodes,
   never HTML from data), every link to a resource is an http(s) link to its page on this server. */
(function () {
  "use strict";

  const wb = window.posgraphWorkbench;
  if (!wb) {
    return; // workbench.js did not load: the page says so itself
  }
  const ID = "https://w3id.org/posgraph/id/";
  const ISSUE = "https://w3id.org/posgraph/issue/";
  // The collections an entity of the history picker is searched in, in the order their matches are listed.
  const COLLECTIONS = ["parties", "people", "positions", "issues", "sources", "events", "documents", "places"];
  const RELATIONS = {
    supersedes: "supersedes",
    respondsTo: "responds to",
    source: "citing",
    heldBy: "held by",
    addressedTo: "addressed to",
    concerns: "on the issue",
    atEvent: "at",
    hasTerm: "with the term",
  };
  const ACTIONS = {
    submitted: "submitted",
    accepted: "accepted and published",
    rejected: "rejected",
    reverted: "reverted (withdrawn from the published graph)",
    loaded: "loaded directly (without review)",
  };

  let me = null; // whoami's answer while signed in
  let openBatch = null; // the id of the batch shown in the review tab
  let searchTimer = null;
  let searchRound = 0;

  // ------------------------------------------------------------------------------------------ small helpers
  /** An element (through workbench.js's el: text children become text nodes); null, undefined and false
   * children are left out, numbers become text, arrays are spread. */
  function h(tag, attrs, ...children) {
    const kids = children
      .flat(Infinity)
      .filter((c) => c !== null && c !== undefined && c !== false)
      .map((c) => (typeof c === "number" ? String(c) : c));
    return wb.el(tag, attrs || {}, ...kids);
  }

  function clear(node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
    return node;
  }

  function on(node, event, handler) {
    node.addEventListener(event, handler);
    return node;
  }

  function button(text, handler, attrs) {
    return on(h("button", Object.assign({ type: "button" }, attrs || {}), text), "click", handler);
  }

  /** This server's page for an IRI it publishes (/id/…, /issue/…); other http(s) IRIs unchanged; null else. */
  function pageUrl(iri) {
    if (typeof iri !== "string") {
      return null;
    }
    if (iri.startsWith(ID)) {
      return location.origin + "/id/" + iri.slice(ID.length);
    }
    if (iri.startsWith(ISSUE)) {
      return location.origin + "/issue/" + iri.slice(ISSUE.length);
    }
    return /^https?:\/\//i.test(iri) ? iri : null;
  }

  /** The IRI a pasted address names: a w3id IRI as is, this server's page address turned back into its IRI;
   * null for anything else. */
  function iriOf(text) {
    const value = text.trim();
    if (value.startsWith(ID) || value.startsWith(ISSUE)) {
      return value;
    }
    for (const [prefix, iri] of [
      ["/id/", ID],
      ["/issue/", ISSUE],
    ]) {
      if (value.startsWith(location.origin + prefix)) {
        const rest = value.slice((location.origin + prefix).length).split(/[?#]/)[0];
        return rest ? iri + rest : null;
      }
    }
    return null;
  }

  /** A link to the resource's page, or its label as text when it has none (a blank node, a new resource). */
  function resourceLink(iri, label) {
    const url = pageUrl(iri);
    const text = label || shortName(iri);
    return url ? wb.link(url, text) : h("span", {}, text);
  }

  function shortName(iri) {
    if (typeof iri !== "string") {
      return "";
    }
    for (const prefix of [ID, ISSUE]) {
      if (iri.startsWith(prefix)) {
        return iri.slice(prefix.length);
      }
    }
    return iri;
  }

  /** An ISO time as "2025-07-21 14:03 UTC" in a <time> element. */
  function when(stamp) {
    if (!stamp) {
      return h("span", {}, "an unknown time");
    }
    const moment = new Date(stamp);
    const text = isNaN(moment.getTime())
      ? String(stamp)
      : moment.toISOString().slice(0, 16).replace("T", " ") + " UTC";
    return h("time", { datetime: String(stamp) }, text);
  }

  /** A property's local name in words: "obligatedParty" -> "obligated party". */
  function words(name) {
    return name.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
  }

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many || one + "s"}`;
  }

  function reportCounts(report) {
    const results = (report && report.results) || [];
    const count = (severity) => results.filter((r) => r.severity === severity).length;
    return { violations: report ? report.violations || count("Violation") : 0, warnings: count("Warning") };
  }

  function announce(region, text) {
    // Emptied first, so that the same words twice are announced twice.
    clear(region);
    window.setTimeout(() => region.appendChild(document.createTextNode(text)), 50);
  }

  function problem(container, error) {
    clear(container);
    wb.showProblem(container, error);
  }

  function batchPath(id, tail) {
    return "/batches/" + encodeURIComponent(id) + (tail || "");
  }

  function noteBody(note) {
    return { method: "POST", body: JSON.stringify({ note: note }), contentType: "application/json" };
  }

  /** One history entry in words: "2025-07-21 14:03 UTC: submitted by cleo — “note”". */
  function historyEntry(entry) {
    const note = entry.note ? h("q", {}, entry.note) : null;
    const counts = ["restored", "unmerged", "added", "retracted", "merged"]
      .filter((k) => typeof entry[k] === "number" && entry[k] > 0)
      .map((k) => `${k} ${entry[k]}`);
    return h(
      "li",
      { "data-action": entry.action || "" },
      when(entry.time),
      ": ",
      h("strong", {}, ACTIONS[entry.action] || entry.action || "changed"),
      " by ",
      entry.actor || "someone",
      counts.length ? ` (${counts.join(", ")})` : null,
      note ? " — reason: " : null,
      note
    );
  }

  /** A batch's history as a list; a batch loaded directly (the seed, `posgraph load`) has only its description. */
  function historyList(batch) {
    const entries = batch.history || [];
    if (!entries.length) {
      return h(
        "p",
        {},
        `Loaded directly (not through review) by ${batch.curator || "an unknown curator"}, `,
        when(batch.submitted),
        `; now ${batch.state}.`
      );
    }
    return h("ol", { class: "wb-history" }, entries.map(historyEntry));
  }

  function batchFacts(batch, report) {
    const counts = reportCounts(report);
    return h(
      "dl",
      { class: "wb-facts" },
      h("dt", {}, "Curator"),
      h("dd", {}, batch.curator || "unknown"),
      h("dt", {}, "Submitted"),
      h("dd", {}, when(batch.submitted)),
      h("dt", {}, "Triples"),
      h("dd", {}, String(batch.triples ?? "?")),
      h("dt", {}, "State"),
      h("dd", {}, batch.state || "?"),
      report ? [h("dt", {}, "Validation"), h("dd", {}, validationWords(counts))] : null,
      batch.note ? [h("dt", {}, "Note"), h("dd", {}, batch.note)] : null,
      h("dt", {}, "Batch"),
      h("dd", {}, h("code", {}, batch.id))
    );
  }

  function validationWords(counts) {
    return `${plural(counts.violations, "violation")}, ${plural(counts.warnings, "warning")}`;
  }

  // ------------------------------------------------------------------------------------------ the review tab
  const review = {
    root: null,
    status: null,
    queue: null,
    detail: null,
    published: null,
  };

  function buildReview(section) {
    review.root = h("div", { class: "wb-review" });
    // Focused after a decision (the button that was pressed is gone), so it can take focus.
    review.status = h("p", {
      class: "status wb-status",
      role: "status",
      "aria-live": "polite",
      id: "review-status",
      tabindex: "-1",
    });
    review.queue = h("div", { id: "review-queue", "aria-busy": "false" });
    review.detail = h("div", { id: "review-batch" });
    review.published = h("div", { id: "review-published" });
    review.root.append(
      review.status,
      h("h3", { id: "review-queue-heading" }, "Waiting for review"),
      h("p", {}, button("Refresh", () => refreshAll(), { class: "secondary wb-refresh" })),
      review.queue,
      review.detail,
      h("h3", { id: "review-published-heading" }, "Published batches"),
      h(
        "p",
        { class: "help wb-hint" },
        "A published batch can be withdrawn from the public graph; you see what would go (and what depends " +
          "on it) before you confirm."
      ),
      review.published
    );
    section.appendChild(review.root);
  }

  async function loadQueue() {
    review.queue.setAttribute("aria-busy", "true");
    try {
      const answer = await wb.api("/batches?state=submitted");
      // Oldest first: the queue is cleared in the order it was filled.
      const batches = (answer.json.batches || []).slice().reverse();
      // The list gives each batch's report as its counts (report_counts), which is all the queue shows.
      const records = batches;
      clear(review.queue);
      if (!records.length) {
        review.queue.appendChild(h("p", {}, "No batch is waiting for review."));
        return;
      }
      review.queue.appendChild(
        h("ul", { class: "wb-queue", "aria-labelledby": "review-queue-heading" }, records.map(queueItem))
      );
    } catch (error) {
      problem(review.queue, error);
    } finally {
      review.queue.setAttribute("aria-busy", "false");
    }
  }

  function queueItem(batch) {
    const counts = batch.report ? reportCounts(batch.report) : batch.report_counts || reportCounts(null);
    const open = button(batch.label || batch.id, () => showBatch(batch.id), {
      class: "wb-open",
      "data-batch": batch.id,
      "aria-controls": "review-batch",
    });
    return h(
      "li",
      { "data-batch": batch.id },
      open,
      h(
        "span",
        { class: "wb-meta" },
        ` by ${batch.curator || "unknown"}, `,
        when(batch.submitted),
        `; ${plural(batch.triples || 0, "triple")}; `,
        batch.report ? validationWords(counts) : "report not loaded"
      ),
      batch.note ? h("p", { class: "wb-note" }, "Note: ", batch.note) : null
    );
  }

  async function showBatch(id) {
    openBatch = id;
    const detail = clear(review.detail);
    detail.setAttribute("aria-busy", "true");
    try {
      const [record, summary, triples] = await Promise.all([
        wb.api(batchPath(id)).then((r) => r.json),
        wb.api(batchPath(id, "/summary")).then((r) => r.json),
        wb.api(batchPath(id, "/triples"), { accept: "text/turtle" }).then((r) => r.text),
      ]);
      if (openBatch !== id) {
        return; // another batch was opened meanwhile
      }
      const heading = h("h3", { tabindex: "-1", id: "review-batch-heading" }, record.label || record.id);
      detail.append(
        h(
          "article",
          { class: "wb-batch", "aria-labelledby": "review-batch-heading", "data-batch": id },
          heading,
          batchFacts(record, record.report),
          h("h4", {}, "What it does, in words"),
          sentences(summary),
          h("h4", {}, "Validation report"),
          reportView(record.report),
          h("h4", {}, "Triples (Turtle)"),
          // In a scrolling box (workbench.css's .table-wrap), so that long lines do not widen a phone's page;
          // focusable, so that it scrolls from the keyboard too.
          h(
            "div",
            { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "The batch's triples in Turtle" },
            h("pre", { class: "wb-triples" }, triples)
          ),
          h("h4", {}, "History"),
          historyList(record),
          h("h4", {}, "Decision"),
          decision(record),
          h("p", {}, button("Close this batch", closeBatch, { class: "secondary wb-close" }))
        )
      );
      heading.focus();
    } catch (error) {
      problem(detail, error);
    } finally {
      detail.setAttribute("aria-busy", "false");
    }
  }

  function closeBatch() {
    const id = openBatch;
    openBatch = null;
    clear(review.detail);
    const opener = id && review.queue.querySelector(`button[data-batch="${CSS.escape(id)}"]`);
    if (opener) {
      opener.focus();
    }
  }

  /** The summary's sentences, each with what it links to (labelled, linked to their pages when published). */
  function sentences(summary) {
    const items = (summary && summary.sentences) || [];
    if (!items.length) {
      return h("p", {}, "The summary has nothing to say about this batch.");
    }
    const counts = (summary && summary.counts) || {};
    const more =
      summary.truncated && typeof counts.adds === "number"
        ? h("p", { class: "help" }, `Only the first ${items.length} of ${counts.adds} things it adds are put in words.`)
        : null;
    return h("div", {}, sentenceList(items), more);
  }

  function sentenceList(items) {
    return h(
      "ul",
      { class: "wb-sentences" },
      items.map((s) =>
        h(
          "li",
          { "data-change": s.action || "" },
          h("p", { class: "wb-sentence" }, s.text),
          (s.links || []).length ? h("ul", { class: "wb-links" }, s.links.map(linkItem)) : null
        )
      )
    );
  }

  function linkItem(link) {
    const relation = RELATIONS[link.relation] || words(link.relation || "") || "links to";
    const label = link.label || shortName(link.iri);
    let where = " (not in the published graph)";
    if (link.published) {
      where = " (published)";
    } else if (link.in_batch) {
      where = " (new in this batch)";
    }
    return h(
      "li",
      { "data-relation": link.relation || "", "data-published": link.published ? "true" : "false" },
      relation + ": ",
      link.published ? resourceLink(link.iri, label) : h("span", {}, label),
      link.kind ? `, ${link.kind}` : null,
      where
    );
  }

  function reportView(report) {
    if (!report) {
      return h("p", {}, "No report is kept for this batch (it was loaded directly).");
    }
    const results = report.results || [];
    const counts = reportCounts(report);
    const verdict = h(
      "p",
      {},
      report.conforms ? "Conforms to the shapes" : "Does not conform",
      ` (${validationWords(counts)}).`
    );
    if (!results.length) {
      return verdict;
    }
    return h(
      "div",
      {},
      verdict,
      h(
        "ul",
        { class: "results wb-report" },
        results.map((r) =>
          h(
            "li",
            { class: String(r.severity || "").toLowerCase(), "data-severity": r.severity || "" },
            h("strong", {}, r.severity || "Result"),
            ": ",
            r.message || "",
            h("br", {}),
            h("small", {}, "at ", h("code", {}, r.focus_node || "?"), r.path ? [", ", h("code", {}, r.path)] : null),
            r.hint ? h("small", {}, h("br", {}), "Fix: ", r.hint) : null
          )
        )
      )
    );
  }

  /** Accept and reject, or why they are not offered. */
  function decision(batch) {
    if (batch.state !== "submitted") {
      return h("p", {}, `This batch is ${batch.state}: there is nothing to decide.`);
    }
    const box = h("div", { class: "wb-decision" });
    const errors = h("div", { class: "wb-errors" });
    const own = me && batch.curator === me.name;
    if (!me || !me.may || !me.may.review) {
      box.appendChild(h("p", { class: "notice wb-why" }, "Accepting or rejecting batches needs the reviewer role."));
      return box;
    }
    if (own && me.role !== "admin") {
      box.appendChild(
        h(
          "p",
          { class: "notice wb-why", id: "review-own-batch" },
          "You submitted this batch: another reviewer accepts it (a curator cannot accept their own batch). " +
            "You may still reject it, to withdraw it."
        )
      );
    } else {
      box.appendChild(
        h(
          "p",
          {},
          button("Accept and publish", () => decide(batch, "accept", null, errors), { class: "wb-accept" })
        )
      );
    }
    const reasonId = "review-reject-reason";
    const reason = h("textarea", { id: reasonId, name: "note", rows: "3", maxlength: "2000" });
    reason.required = true;
    const form = h(
      "form",
      // novalidate: the missing reason is said in the page (role=alert), not in the browser's own bubble.
      { class: "wb-reject", "aria-label": "Reject this batch", novalidate: "" },
      h("div", {}, h("label", { for: reasonId }, "Reason for rejecting (required; the curator reads it)")),
      h("div", {}, reason),
      h("div", {}, h("button", { type: "submit", class: "wb-reject-button" }, "Reject"))
    );
    on(form, "submit", (event) => {
      event.preventDefault();
      const note = reason.value.trim();
      if (!note) {
        reason.setAttribute("aria-invalid", "true");
        clear(errors).appendChild(h("p", { role: "alert", class: "problem" }, "Give a reason for rejecting."));
        reason.focus();
        return;
      }
      decide(batch, "reject", note, errors);
    });
    box.append(form, errors);
    return box;
  }

  async function decide(batch, action, note, errors) {
    const controls = review.detail.querySelectorAll("button, textarea");
    controls.forEach((c) => (c.disabled = true));
    try {
      const answer = await wb.api(batchPath(batch.id, "/" + action), noteBody(note));
      const done = answer.json || {};
      openBatch = null;
      clear(review.detail);
      announce(
        review.status,
        action === "accept"
          ? `Accepted “${batch.label}”: it is published (state ${done.state || "accepted"}).`
          : `Rejected “${batch.label}”.`
      );
      await refreshAll();
      review.status.focus();
    } catch (error) {
      controls.forEach((c) => (c.disabled = false));
      problem(errors, error);
    }
  }

  // ------------------------------------------------------------------------------------------ published, revert
  async function loadPublished() {
    const box = review.published;
    box.setAttribute("aria-busy", "true");
    try {
      const answer = await wb.api("/batches?state=accepted");
      const batches = answer.json.batches || [];
      clear(box);
      if (!batches.length) {
        box.appendChild(h("p", {}, "No batch is published."));
        return;
      }
      box.appendChild(
        h("ul", { class: "wb-published", "aria-labelledby": "review-published-heading" }, batches.map(publishedItem))
      );
    } catch (error) {
      problem(box, error);
    } finally {
      box.setAttribute("aria-busy", "false");
    }
  }

  function publishedItem(batch) {
    const panel = h("div", { class: "wb-revert", id: `revert-${batch.id}` });
    const item = h(
      "li",
      { "data-batch": batch.id },
      h("strong", {}, batch.label || batch.id),
      h(
        "span",
        { class: "wb-meta" },
        ` by ${batch.curator || "unknown"}`,
        batch.reviewer ? `, accepted by ${batch.reviewer}` : null,
        " on ",
        when(batch.accepted || batch.submitted),
        `; ${plural(batch.triples || 0, "triple")} `
      ),
      panel
    );
    revertIdle(batch, panel);
    return item;
  }

  /** What a published batch's revert panel shows before the preview: the button that asks for it. */
  function revertIdle(batch, panel) {
    if (batch.bulk_loaded) {
      panel.appendChild(h("p", {}, "Bulk-loaded as the store's baseline: it cannot be reverted."));
    } else if (me && me.may && me.may.revert) {
      panel.appendChild(
        button("Revert…", () => previewRevert(batch, panel), {
          class: "wb-revert-start",
          "data-batch": batch.id,
          "aria-label": `Revert “${batch.label || batch.id}”…`,
        })
      );
    }
  }

  async function previewRevert(batch, panel) {
    clear(panel).setAttribute("aria-busy", "true");
    try {
      const answer = await wb.api(batchPath(batch.id, "/revert?dry_run=true"), { method: "POST" });
      const preview = answer.json || {};
      const dependents = preview.dependents || [];
      const amenders = preview.amended_by || [];
      const reasonId = `revert-reason-${batch.id}`;
      const reason = h("textarea", { id: reasonId, name: "note", rows: "2", maxlength: "2000" });
      reason.required = true;
      const errors = h("div", { class: "wb-errors" });
      const headingId = `revert-heading-${batch.id}`;
      const heading = h("h4", { id: headingId, tabindex: "-1" }, "If you revert it");
      const form = h(
        "form",
        { class: "wb-revert-form", "aria-labelledby": headingId, novalidate: "" },
        h(
          "div",
          {},
          h("label", { for: reasonId }, "Reason for reverting (required; kept in the history and the audit log)")
        ),
        h("div", {}, reason),
        h(
          "div",
          {},
          h("button", { type: "submit", class: "wb-revert-confirm" }, "Revert this batch"),
          " ",
          button(
            "Cancel",
            () => {
              revertIdle(batch, clear(panel));
              const start = panel.querySelector("button");
              if (start) {
                start.focus();
              }
            },
            { class: "secondary" }
          )
        )
      );
      if (amenders.length) {
        form.querySelector("button[type=submit]").disabled = true;
      }
      on(form, "submit", (event) => {
        event.preventDefault();
        const note = reason.value.trim();
        if (!note) {
          reason.setAttribute("aria-invalid", "true");
          clear(errors).appendChild(h("p", { role: "alert", class: "problem" }, "Give a reason for reverting."));
          reason.focus();
          return;
        }
        revert(batch, note, panel, errors);
      });
      panel.append(
        h(
          "section",
          { class: "wb-preview", "aria-labelledby": headingId },
          heading,
          h(
            "p",
            { class: "wb-removed" },
            `${plural(preview.triples_removed || 0, "triple")} would leave the published graph`,
            preview.triples_restored ? `, ${plural(preview.triples_restored, "triple")} would come back` : null,
            "."
          ),
          dependents.length
            ? [
                h("p", {}, `${plural(dependents.length, "statement")} in other batches depend on it:`),
                h(
                  "ul",
                  { class: "wb-dependents" },
                  dependents.map((d) =>
                    h(
                      "li",
                      {},
                      resourceLink(d.resource),
                      ` ${words(shortName(d.property).split(/[#/]/).pop())} `,
                      resourceLink(d.depends_on),
                      ` (batch ${d.batch})`
                    )
                  )
                ),
              ]
            : h("p", {}, "Nothing in other batches depends on it."),
          amenders.length
            ? h("p", { role: "alert" }, `Revert first the batches that amended its data since: ${amenders.join(", ")}.`)
            : null,
          form,
          errors
        )
      );
      heading.focus();
    } catch (error) {
      problem(panel, error);
    } finally {
      panel.setAttribute("aria-busy", "false");
    }
  }

  async function revert(batch, note, panel, errors) {
    const controls = panel.querySelectorAll("button, textarea");
    controls.forEach((c) => (c.disabled = true));
    try {
      await wb.api(batchPath(batch.id, "/revert"), noteBody(note));
      announce(review.status, `Reverted “${batch.label}”: it is no longer in the published graph.`);
      await refreshAll();
      review.status.focus();
    } catch (error) {
      controls.forEach((c) => (c.disabled = false));
      problem(errors, error);
    }
  }

  // ------------------------------------------------------------------------------------------ the history tab
  const history = { root: null, batches: null, entity: null, results: null, timeline: null, status: null };

  function buildHistory(section) {
    const inputId = "history-entity";
    const input = h("input", {
      id: inputId,
      name: "entity",
      type: "search",
      autocomplete: "off",
      "aria-describedby": "history-entity-hint",
    });
    history.results = h("div", { id: "history-matches" });
    history.timeline = h("div", { id: "history-timeline" });
    history.status = h("p", { class: "status wb-status", role: "status", "aria-live": "polite", id: "history-status" });
    const form = h(
      "form",
      { class: "wb-entity-picker", role: "search", "aria-label": "History of an entity" },
      h("label", { for: inputId }, "Party, person, position, issue, source… (a label, or an address of this server)"),
      h(
        "p",
        { id: "history-entity-hint", class: "help wb-hint" },
        "Type part of its label and choose it from the matches, or paste its address (…/id/… or …/issue/…)."
      ),
      input,
      h("button", { type: "submit" }, "Find")
    );
    on(form, "submit", (event) => {
      event.preventDefault();
      window.clearTimeout(searchTimer);
      pick(input.value);
    });
    on(input, "input", () => {
      window.clearTimeout(searchTimer);
      if (input.value.trim().length >= 2 && !iriOf(input.value)) {
        searchTimer = window.setTimeout(() => search(input.value.trim()), 350);
      }
    });
    history.entity = input;
    history.batches = h("div", { id: "history-batches" });
    history.root = h(
      "div",
      { class: "wb-history-tab" },
      history.status,
      h("h3", { id: "history-entity-heading" }, "Per entity"),
      form,
      history.results,
      history.timeline,
      h("h3", { id: "history-batches-heading" }, "Per batch"),
      history.batches
    );
    section.appendChild(history.root);
  }

  function pick(text) {
    const iri = iriOf(text);
    if (iri) {
      showTimeline(iri, iri);
      return;
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(text.trim())) {
      clear(history.results).appendChild(
        h("p", { role: "alert" }, "That address is not one of this server's resources (…/id/… or …/issue/…).")
      );
      return;
    }
    if (text.trim()) {
      search(text.trim());
    }
  }

  function itemLabel(item) {
    for (const key of ["prefLabel", "summary", "headline"]) {
      const value = item[key];
      if (value && typeof value === "object") {
        return value.en || value["@none"] || Object.values(value)[0];
      }
    }
    return shortName(item.id);
  }

  function itemDate(item) {
    const key = Object.keys(item).find((k) => /^(statedOn|startDate|datePublished)/.test(k));
    return key ? item[key] : null;
  }

  async function search(text) {
    const round = ++searchRound;
    const query = new URLSearchParams({ q: text, limit: "5" }).toString();
    const answers = await Promise.all(
      COLLECTIONS.map((name) =>
        wb
          .api(`/${name}?${query}`, { accept: "application/json" })
          .then((r) => ({ name, items: (r.json && r.json.items) || [] }))
          .catch((error) => ({ name, items: [], error }))
      )
    );
    if (round !== searchRound) {
      return; // a later search is under way
    }
    const found = answers.flatMap((a) => a.items.map((item) => Object.assign({ collection: a.name }, item)));
    const box = clear(history.results);
    announce(
      history.status,
      found.length ? `${plural(found.length, "match", "matches")} for “${text}”.` : `Nothing matches “${text}”.`
    );
    if (!found.length) {
      box.appendChild(h("p", {}, `Nothing matches “${text}”.`));
      const failed = answers.find((a) => a.error);
      if (failed) {
        wb.showProblem(box, failed.error);
      }
      return;
    }
    box.appendChild(
      h(
        "ul",
        { class: "wb-matches", "aria-label": `Matches for ${text}` },
        found.map((item) => {
          const label = itemLabel(item);
          const date = itemDate(item);
          return h(
            "li",
            {},
            button(label, () => showTimeline(item.id, label), { class: "secondary wb-match", "data-iri": item.id }),
            h("span", { class: "wb-meta" }, ` ${item.type || item.collection}`, date ? `, ${date}` : null)
          );
        })
      )
    );
  }

  async function showTimeline(iri, label) {
    const box = clear(history.timeline);
    box.setAttribute("aria-busy", "true");
    try {
      const answer = await wb.api("/batches?" + new URLSearchParams({ about: iri }).toString());
      const batches = answer.json.batches || [];
      const headingId = "history-timeline-heading";
      const heading = h("h4", { id: headingId, tabindex: "-1" }, "Batches touching ", resourceLink(iri, label));
      box.append(
        heading,
        batches.length
          ? h("ol", { class: "wb-timeline", "aria-labelledby": headingId }, batches.map(timelineItem))
          : h("p", {}, "No batch touches it.")
      );
      const verb = batches.length === 1 ? "touches" : "touch";
      announce(history.status, `${plural(batches.length, "batch", "batches")} ${verb} ${label}.`);
      heading.focus();
    } catch (error) {
      problem(box, error);
    } finally {
      box.setAttribute("aria-busy", "false");
    }
  }

  function timelineItem(batch) {
    return h(
      "li",
      { "data-batch": batch.id, "data-state": batch.state || "" },
      h("strong", {}, batch.label || batch.id),
      ` (${batch.state}; ${plural(batch.triples || 0, "triple")}; batch `,
      h("code", {}, batch.id),
      ")",
      historyList(batch)
    );
  }

  async function loadBatchHistory() {
    const box = history.batches;
    box.setAttribute("aria-busy", "true");
    try {
      const answer = await wb.api("/batches");
      const batches = answer.json.batches || [];
      // What the reader had opened stays open across a refresh.
      const opened = new Set(
        Array.from(box.querySelectorAll("li[data-batch] > details[open]")).map((d) => d.parentNode.dataset.batch)
      );
      clear(box);
      if (!batches.length) {
        box.appendChild(h("p", {}, "No batches yet."));
        return;
      }
      box.appendChild(
        h(
          "ul",
          { class: "wb-batch-history", "aria-labelledby": "history-batches-heading" },
          batches.map((batch) =>
            h(
              "li",
              { "data-batch": batch.id, "data-state": batch.state || "" },
              opened.has(batch.id)
                ? openDetails(batchDetails(batch))
                : batchDetails(batch)
            )
          )
        )
      );
    } catch (error) {
      problem(box, error);
    } finally {
      box.setAttribute("aria-busy", "false");
    }
  }

  function batchDetails(batch) {
    return h(
      "details",
      {},
      h("summary", {}, `${batch.label || batch.id} — ${batch.state}`),
      batchFacts(batch, null),
      historyList(batch)
    );
  }

  function openDetails(details) {
    details.open = true;
    return details;
  }

  // ------------------------------------------------------------------------------------------ sign-in, refresh
  async function refreshAll() {
    const work = [];
    if (me && me.may && me.may.review && review.root) {
      work.push(loadQueue(), loadPublished());
    }
    if (me && me.may && (me.may.submit || me.may.review) && history.root) {
      work.push(loadBatchHistory());
    }
    await Promise.all(work);
  }

  function reset() {
    me = null;
    openBatch = null;
    for (const part of [review.root, history.root]) {
      if (part && part.parentNode) {
        part.parentNode.removeChild(part);
      }
    }
    review.root = history.root = null;
  }

  // Coming back to a tab shows it as it is now: other reviewers work on the same queue. (workbench.js shows the
  // tab on the same click, before this listener runs.)
  function onTab(id, refresh) {
    const tab = document.getElementById(id);
    if (tab) {
      on(tab, "click", () => me && refresh());
    }
  }
  onTab("tab-review", () => review.root && Promise.all([loadQueue(), loadPublished()]));
  onTab("tab-history", () => history.root && loadBatchHistory());

  wb.onSignIn((who) => {
    reset();
    if (!who) {
      return;
    }
    me = who;
    // workbench.js offers the tabs by role; these panels are built only for the roles that may use them.
    const may = who.may || {};
    const reviewSection = document.getElementById("review");
    const historySection = document.getElementById("history");
    if (may.review && reviewSection) {
      buildReview(reviewSection);
    }
    if ((may.submit || may.review) && historySection) {
      buildHistory(historySection);
    }
    refreshAll();
  });
})();
