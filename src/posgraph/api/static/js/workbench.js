// The curator workbench, entry side: sign-in, forms drawn from /workbench/forms (described from the SHACL shapes),
// pickers over the collections, live validation by POST /validate, submission to POST /batches, and "my batches".
// It uses only the public HTTP API, with the token as a bearer header to this origin. Values curators type are
// data: every one enters the page as a text node or a property, never as markup (no innerHTML anywhere here).
//
// window.posgraphWorkbench (defined first) is what the review side (workbench-review.js) builds on.
(function () {
  "use strict";

  var TOKEN_KEY = "posgraph.token";
  var XSD = "http://www.w3.org/2001/XMLSchema#";
  var PG = "https://w3id.org/posgraph/ns#";
  var listeners = [];
  var who = null; // whoami's answer while signed in
  var signedInOnce = false;
  var uidCounter = 0;

  function uid(prefix) {
    uidCounter += 1;
    return (prefix || "wb") + "-" + uidCounter;
  }

  // A URL only if it is http(s): javascript:, data: and the like would run or render in this page.
  function safeUrl(url) {
    try {
      var parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function appendChild(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) {
      child.forEach(function (c) { appendChild(node, c); });
    } else if (child instanceof Node) {
      node.appendChild(child);
    } else {
      node.appendChild(document.createTextNode(String(child)));
    }
  }

  // el("a", {href: …, class: …, onclick: fn}, "text", otherElement): text children become text nodes.
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key.slice(0, 2) === "on" && typeof value === "function") {
        node.addEventListener(key.slice(2), value);
      } else if (key === "class") {
        node.className = value;
      } else if (key === "value" || key === "checked" || key === "selected" || key === "disabled" || key === "hidden") {
        node[key] = value;
      } else if (key === "href" || key === "src" || key === "action") {
        var url = safeUrl(value);
        if (url !== null) node.setAttribute(key, url);
      } else {
        node.setAttribute(key, value === true ? "" : String(value));
      }
    });
    for (var i = 2; i < arguments.length; i++) appendChild(node, arguments[i]);
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  // This server's page for an instance or issue IRI (as the server's local_url does); other IRIs unchanged.
  function pageUrl(iri) {
    var id = "https://w3id.org/posgraph/id/", issue = "https://w3id.org/posgraph/issue/";
    if (iri.indexOf(id) === 0) return window.location.origin + "/id/" + iri.slice(id.length);
    if (iri.indexOf(issue) === 0) return window.location.origin + "/issue/" + iri.slice(issue.length);
    return iri;
  }

  // A link to ``iri``'s page with ``label`` as its text; a non-web IRI is shown as code, never linked.
  function link(iri, label) {
    var url = safeUrl(pageUrl(String(iri)));
    if (url === null) return el("code", {}, label || String(iri));
    return el("a", { href: url }, label || String(iri));
  }

  function problemText(problem, status) {
    if (!problem) return "HTTP " + status;
    var parts = [problem.title || "HTTP " + status];
    if (problem.detail) parts.push(problem.detail);
    return parts.join(": ");
  }

  // fetch on this origin with the bearer token; resolves {status, headers, json|text}; >= 400 throws an Error
  // with .status and .problem (the problem+json body, or {title, detail} made from a plain one).
  async function api(path, options) {
    var opts = options || {};
    if (typeof path !== "string" || path.charAt(0) !== "/" || path.charAt(1) === "/") {
      throw new Error("posgraphWorkbench.api takes a path on this server, such as /batches");
    }
    var headers = { Accept: opts.accept || "application/json" };
    var token = window.sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    var body = opts.body;
    if (body !== undefined && body !== null) {
      if (typeof body !== "string" && !(body instanceof Blob)) body = JSON.stringify(body);
      headers["Content-Type"] = opts.contentType || "application/json";
    }
    var response = await fetch(path, {
      method: opts.method || "GET",
      headers: headers,
      body: body === undefined ? null : body,
      credentials: "omit",
      redirect: "error",
      cache: "no-cache",
    });
    var result = { status: response.status, headers: response.headers };
    var type = response.headers.get("content-type") || "";
    var text = response.status === 204 || response.status === 304 ? "" : await response.text();
    if (/json/.test(type) && text) {
      try {
        result.json = JSON.parse(text);
      } catch (e) {
        result.text = text;
      }
    } else {
      result.text = text;
    }
    if (response.status >= 400) {
      var problem = result.json && typeof result.json === "object" ? result.json : { title: "HTTP " + response.status, detail: (text || "").slice(0, 500) };
      var error = new Error(problemText(problem, response.status));
      error.status = response.status;
      error.problem = problem;
      throw error;
    }
    return result;
  }

  async function whoami() {
    if (who) return who;
    var answer = await api("/whoami");
    who = answer.json;
    return who;
  }

  function showProblem(container, error) {
    clear(container);
    var problem = (error && error.problem) || { title: "Something went wrong", detail: String((error && error.message) || error) };
    var box = el("div", { class: "problem", role: "alert" }, el("strong", {}, problem.title || "Problem"));
    if (problem.detail) appendChild(box, [" ", problem.detail]);
    if (problem.parameter) appendChild(box, [" (parameter ", el("code", {}, problem.parameter), ")"]);
    container.appendChild(box);
    return box;
  }

  function onSignIn(callback) {
    listeners.push(callback);
    if (who) Promise.resolve().then(function () { callback(who); });
  }

  function notify(answer) {
    listeners.forEach(function (callback) {
      try {
        callback(answer);
      } catch (e) {
        window.setTimeout(function () { throw e; });
      }
    });
  }

  window.posgraphWorkbench = {
    api: api,
    whoami: whoami,
    el: el,
    link: link,
    showProblem: showProblem,
    onSignIn: onSignIn,
    clear: clear,
    showTab: function (name) { showTab(name); },
    compact: function (iri) { return compact(iri); },
  };

  // ------------------------------------------------------------------------------------------ sign-in and tabs
  var $ = function (id) { return document.getElementById(id); };
  var TABS = { enter: "tab-enter", "my-batches": "tab-batches", review: "tab-review", history: "tab-history" };

  function showTab(section) {
    var tab = $(TABS[section]);
    if (!tab || tab.hidden) return;
    Object.keys(TABS).forEach(function (name) {
      var on = name === section;
      $(name).hidden = !on;
      if (on) $(TABS[name]).setAttribute("aria-current", "page");
      else $(TABS[name]).removeAttribute("aria-current");
    });
    if (window.location.hash !== "#" + section) window.history.replaceState(null, "", "#" + section);
    if (section === "my-batches") loadMyBatches();
  }

  function applyRole(answer) {
    var may = (answer && answer.may) || {};
    $("tab-enter").hidden = !may.submit;
    $("tab-batches").hidden = !may.submit;
    $("tab-review").hidden = !may.review;
    $("tab-history").hidden = !(may.submit || may.review);
    var any = may.submit || may.review;
    $("tabs").hidden = !any;
    var note = $("role-note");
    if (!any) {
      note.textContent = "A " + answer.role + " token cannot curate: it may read what is published, but not submit, " +
        "review or revert batches. Ask an administrator for a curator token to enter data.";
    } else {
      note.textContent = may.review
        ? "You may enter data, and review and revert other curators' batches."
        : "You may enter data and submit it for review.";
    }
    Object.keys(TABS).forEach(function (name) { $(name).hidden = true; });
    if (!any) return;
    var wanted = window.location.hash.slice(1);
    var first = Object.keys(TABS).filter(function (name) { return !$(TABS[name]).hidden; });
    showTab(first.indexOf(wanted) >= 0 ? wanted : first[0]);
  }

  async function signIn(token, quiet) {
    window.sessionStorage.setItem(TOKEN_KEY, token);
    who = null;
    try {
      var answer = await whoami();
      $("who-name").textContent = answer.name;
      $("who-role").textContent = answer.role;
      $("sign-in").hidden = true;
      $("signed-in").hidden = false;
      clear($("sign-in-problem"));
      applyRole(answer);
      signedInOnce = true;
      if (answer.may && answer.may.submit) await loadForms();
      notify(answer);
    } catch (error) {
      window.sessionStorage.removeItem(TOKEN_KEY);
      who = null;
      if (!quiet || error.status !== 401) showProblem($("sign-in-problem"), error);
    }
  }

  function signOut() {
    window.sessionStorage.removeItem(TOKEN_KEY);
    who = null;
    $("sign-in").hidden = false;
    $("signed-in").hidden = true;
    $("tabs").hidden = true;
    Object.keys(TABS).forEach(function (name) { $(name).hidden = true; $(TABS[name]).hidden = true; });
    resetDraft();
    clear($("my-batches-list"));
    clear($("submit-result"));
    $("token").value = "";
    if (signedInOnce) notify(null);
    $("token").focus();
  }

  // ------------------------------------------------------------------------------------------ the forms
  var spec = null; // /workbench/forms
  var formsById = {};
  var LANGUAGES = [
    ["en", "English"], ["uk", "Ukrainian"], ["ru", "Russian"], ["de", "German"], ["fr", "French"], ["es", "Spanish"],
    ["it", "Italian"], ["pl", "Polish"], ["tr", "Turkish"], ["ar", "Arabic"], ["zh", "Chinese"], ["he", "Hebrew"],
    ["fa", "Persian"], ["ja", "Japanese"], ["pt", "Portuguese"],
  ];
  var PRECISIONS = [
    [XSD + "date", "day"], [XSD + "gYearMonth", "month"], [XSD + "gYear", "year"], [XSD + "dateTime", "date and time"],
  ];
  // The property a new entity's IRI is minted from, and the date minted with it (positions, sources).
  var LABEL_PATHS = [
    "http://www.w3.org/2004/02/skos/core#prefLabel", "https://schema.org/headline", "https://w3id.org/posgraph/ns#summary",
    "https://schema.org/name", "http://www.w3.org/2000/01/rdf-schema#label", "https://w3id.org/posgraph/ns#roleTitle",
  ];
  var DATE_PATHS = [
    "https://w3id.org/posgraph/ns#statedOn", "https://schema.org/datePublished", "https://w3id.org/posgraph/ns#startDate",
  ];
  var LONG_TEXT = /#(summary|outcome|wording|dateNote|note|comment|description|definition)$/;

  function compact(iri) {
    var best = null;
    Object.keys((spec && spec.prefixes) || {}).forEach(function (prefix) {
      var ns = spec.prefixes[prefix];
      if (iri.indexOf(ns) === 0 && (best === null || ns.length > spec.prefixes[best].length)) best = prefix;
    });
    return best === null ? iri : best + ":" + iri.slice(spec.prefixes[best].length);
  }

  function expand(name) {
    if (!name) return name;
    if (name.charAt(0) === "<" && name.charAt(name.length - 1) === ">") return name.slice(1, -1);
    if (name.indexOf("_:") === 0 || /^https?:\/\//.test(name)) return name;
    var colon = name.indexOf(":");
    var prefixes = (spec && spec.prefixes) || {};
    if (colon > 0 && prefixes[name.slice(0, colon)] !== undefined) return prefixes[name.slice(0, colon)] + name.slice(colon + 1);
    return name;
  }

  function indexForm(form) {
    formsById[form.id] = form;
    (form.subtypes || []).forEach(indexForm);
  }

  async function loadForms() {
    if (spec) return;
    try {
      spec = (await api("/workbench/forms")).json;
    } catch (error) {
      showProblem($("draft-results"), error);
      return;
    }
    (spec.forms || []).forEach(indexForm);
    Object.keys(spec.nested || {}).forEach(function (id) { indexForm(spec.nested[id]); });
    var select = $("form-choice");
    var groups = {};
    spec.forms.forEach(function (form) {
      var name = form.group || "Other";
      if (!groups[name]) {
        groups[name] = el("optgroup", { label: name });
        select.appendChild(groups[name]);
      }
      groups[name].appendChild(el("option", { value: form.id }, form.label));
    });
  }

  // The form to draw for a new entity a field points at: one whose class the field requires, else one listed in
  // the field's collection.
  function formForField(field) {
    if (!spec) return null;
    var classes = field.classes || [];
    var exact = spec.forms.filter(function (f) { return classes.indexOf(f["class"]) >= 0; });
    if (exact.length) return exact[0];
    var listed = spec.forms.filter(function (f) { return field.collection && f.collection === field.collection; });
    return listed.length ? listed[0] : null;
  }

  // ------------------------------------------------------------------------------------------ the draft
  // A draft is the entity being created and the new entities it refers to, each an EntityNode; nested parts
  // (terms, reports, quantities …) are EntityNodes too, as blank nodes "_:wb-term-1".
  var draft = { main: null, nodes: [], blanks: {} };

  function blankId(formId) {
    var key = formId.toLowerCase().replace(/[^a-z0-9]+/g, "-");
    draft.blanks[key] = (draft.blanks[key] || 0) + 1;
    return "_:wb-" + key + "-" + draft.blanks[key];
  }

  function EntityNode(form, role, parentField) {
    this.form = form;
    this.type = form["class"];
    this.role = role; // "main", "new" or "nested"
    this.parentField = parentField || null;
    this.blank = blankId(form.id);
    this.iri = null;
    this.fields = [];
    this.removed = false;
    this.chips = []; // chips elsewhere that point at this (new) entity
    this.results = el("ul", { class: "results", id: uid("node-results") });
    this.body = el("div", { class: "entity-fields" });
  }

  EntityNode.prototype.id = function () { return this.iri || this.blank; };

  EntityNode.prototype.label = function () {
    var field = this.labelField();
    var text = field ? field.firstText() : "";
    return text || this.form.label;
  };

  EntityNode.prototype.labelField = function () {
    for (var i = 0; i < LABEL_PATHS.length; i++) {
      for (var j = 0; j < this.fields.length; j++) if (this.fields[j].field.path === LABEL_PATHS[i]) return this.fields[j];
    }
    return null;
  };

  EntityNode.prototype.dateValue = function () {
    for (var i = 0; i < DATE_PATHS.length; i++) {
      for (var j = 0; j < this.fields.length; j++) {
        if (this.fields[j].field.path === DATE_PATHS[i]) return this.fields[j].firstText();
      }
    }
    return "";
  };

  EntityNode.prototype.fieldByPath = function (path) {
    for (var j = 0; j < this.fields.length; j++) if (this.fields[j].field.path === path) return this.fields[j];
    return null;
  };

  // Draw the fields of ``form`` into this.body, in the forms' order, under their groups; fields the shapes do not
  // constrain go under "More fields". Values of fields that stay (same path and widget) are kept.
  EntityNode.prototype.draw = function (form) {
    var kept = {};
    this.fields.forEach(function (fv) { kept[fv.field.path + " " + fv.field.widget] = fv; });
    this.form = form;
    this.type = form["class"];
    this.fields = [];
    clear(this.body);
    var self = this;
    var main = el("div", {});
    var more = el("details", { class: "more-fields" }, el("summary", {}, "More fields"));
    var groupBox = { main: null, more: null }, groupName = { main: undefined, more: undefined };
    form.fields.forEach(function (field) {
      var key = field.path + " " + field.widget;
      var fv = kept[key] && kept[key].field.path === field.path ? kept[key] : new FieldView(self, field);
      fv.field = field;
      delete kept[key];
      self.fields.push(fv);
      var where = field.advanced ? "more" : "main";
      var target = where === "more" ? more : main;
      if (field.group) {
        if (groupName[where] !== field.group) {
          groupName[where] = field.group;
          groupBox[where] = el("fieldset", { class: "group" }, el("legend", {}, field.group));
          target.appendChild(groupBox[where]);
        }
        groupBox[where].appendChild(fv.root);
      } else {
        groupName[where] = undefined;
        target.appendChild(fv.root);
      }
    });
    Object.keys(kept).forEach(function (key) { kept[key].dispose(); });
    this.body.appendChild(main);
    if (more.childNodes.length > 1) this.body.appendChild(more);
    this.more = more;
  };

  EntityNode.prototype.serialise = function (out, index) {
    var object = { "@id": this.id(), "@type": [this.type] };
    index[object["@id"]] = this;
    out.push(object);
    this.fields.forEach(function (fv) {
      var values = fv.values(out, index);
      if (values.length) object[fv.field.path] = values;
    });
  };

  EntityNode.prototype.clearResults = function () {
    clear(this.results);
    this.fields.forEach(function (fv) { fv.clearResults(); });
  };

  EntityNode.prototype.childrenAt = function (path) {
    var fv = this.fieldByPath(path);
    return fv ? fv.entries.filter(function (e) { return e.child; }).map(function (e) { return e.child; }) : [];
  };

  // A top-level entity (the main one or a new one) as a fieldset with its IRI, minted from its label.
  function topLevel(form, role) {
    var node = new EntityNode(form, role);
    node.iriNote = el("div", { class: "iri-note", "aria-live": "polite" });
    var legend = el("legend", {}, role === "main" ? form.label : "New " + form.label.toLowerCase());
    var box = el("fieldset", { class: "entity", "data-form": form.id }, legend);
    if (form.description) box.appendChild(el("p", { class: "help" }, form.description));
    box.appendChild(el("p", { class: "help" }, "Fields marked ", el("span", { class: "required-mark", "aria-hidden": "true" }, "*"), " are required."));
    box.appendChild(node.iriNote);
    if (!form.kind) {
      // Not minted (a place is its Wikidata item): the curator names the IRI.
      var iriId = uid("iri");
      var iriInput = el("input", {
        id: iriId,
        type: "url",
        placeholder: "http://www.wikidata.org/entity/Q…",
        oninput: function () {
          var v = iriInput.value.trim();
          node.iri = v && safeUrl(v) === v ? v : null;
          changed();
        },
      });
      box.appendChild(el("label", { for: iriId }, "Its IRI"));
      if (form.iri_pattern) box.appendChild(el("p", { class: "help" }, "Matching ", el("code", {}, form.iri_pattern)));
      box.appendChild(iriInput);
    }
    box.appendChild(node.results);
    box.appendChild(node.body);
    if (role === "new") {
      box.appendChild(el("button", {
        type: "button",
        class: "secondary",
        onclick: function () { removeNew(node); },
      }, "Remove this new " + form.label.toLowerCase()));
    }
    node.box = box;
    node.draw(form);
    node.legend = legend;
    draft.nodes.push(node);
    return node;
  }

  function removeNew(node) {
    node.removed = true;
    node.chips.slice().forEach(function (chip) { chip.remove(); });
    draft.nodes = draft.nodes.filter(function (n) { return n !== node; });
    node.box.remove();
    changed();
  }

  // ---- minting: a top-level entity's IRI comes from /workbench/mint whenever its label or date changes
  var mintTimers = new Map();

  function scheduleMint(node) {
    if (node.role === "nested" || !node.form.kind) return;
    window.clearTimeout(mintTimers.get(node));
    mintTimers.set(node, window.setTimeout(function () { mint(node); }, 400));
  }

  async function mint(node) {
    mintTimers.delete(node);
    var label = node.labelField() ? node.labelField().firstText() : "";
    var key = (label || node.form.label) + "\u0000" + node.dateValue();
    if (key === node.mintedFor || node.removed || !node.form.kind) return;
    var params = new URLSearchParams({ form: node.form.id, label: label || node.form.label });
    if (node.dateValue()) params.set("date", node.dateValue());
    try {
      var answer = (await api("/workbench/mint?" + params.toString())).json;
      if (node.removed) return;
      node.iri = answer.iri;
      node.mintedFor = key;
      clear(node.iriNote);
      appendChild(node.iriNote, [
        el("p", {}, "Will be published as ", el("code", { class: "minted-iri" }, compact(answer.iri)),
          label ? "" : " (from the form's name until it has a label)", "."),
        answer.rule ? el("details", {}, el("summary", {}, "How IRIs are made"), el("p", { class: "help" }, answer.rule)) : null,
      ]);
      node.chips.forEach(function (chip) { chip.refresh(); });
      changed();
    } catch (error) {
      showProblem(node.iriNote, error);
    }
  }

  async function mintsSettled() {
    draft.nodes.forEach(function (node) {
      if (mintTimers.has(node)) {
        window.clearTimeout(mintTimers.get(node));
        mintTimers.delete(node);
      }
    });
    await Promise.all(draft.nodes.map(function (node) { return mint(node); }));
  }

  // ------------------------------------------------------------------------------------------ fields
  function FieldView(node, field) {
    this.node = node;
    this.field = field;
    this.entries = [];
    this.id = uid("field");
    this.root = el("div", { class: "field", "data-path": field.path, "data-widget": field.widget });
    // Required: the shapes refuse the entry without it; recommended: they warn.
    var required = field.min >= 1 && field.severity !== "Warning";
    var recommended = field.min >= 1 && !required;
    this.required = required;
    this.nameId = this.id + "-name";
    this.helpId = this.id + "-help";
    this.resultsId = this.id + "-results";
    var nameParts = [
      field.name,
      required ? [" ", el("span", { class: "required-mark", "aria-hidden": "true" }, "*"), el("span", { class: "visually-hidden" }, " (required)")] : null,
      recommended ? el("span", { class: "recommended" }, " (recommended)") : null,
    ];
    var help = field.definition || field.description;
    var many = field.max === null || field.max === undefined || field.max > 1;
    // A many-valued reference is a group of checkboxes, each labelled by its candidate: the name heads the group.
    this.labelled = field.widget !== "nested" && !(field.widget === "ref" && many);
    // The name labels the first control (a <label for>); nested parts get a heading instead.
    this.nameEl = this.labelled
      ? el("label", { id: this.nameId, for: this.id + "-input-1" }, nameParts)
      : el("p", { class: "field-name", id: this.nameId }, nameParts);
    this.root.appendChild(this.nameEl);
    if (help) this.root.appendChild(el("p", { class: "help", id: this.helpId }, help));
    this.list = field.widget === "entity"
      ? el("ul", { class: "chips", "aria-label": field.name + ": chosen" })
      : el("div", { class: "values" });
    this.root.appendChild(this.list);
    this.resultsEl = el("ul", { class: "results", id: this.resultsId });
    if (field.widget === "nested") {
      var nestedForm = spec.nested[field.nested] || formsById[field.nested];
      var what = nestedForm ? nestedForm.label.toLowerCase() : field.name.toLowerCase();
      this.addButton = el("button", { type: "button", class: "secondary add" }, "Add " + (/^[aeiou]/.test(what) ? "an " : "a ") + what);
    } else if (field.widget === "entity") {
      this.picker = new Picker(this);
      this.root.appendChild(this.picker.root);
    } else if (many && field.widget !== "ref") {
      this.addButton = el("button", { type: "button", class: "secondary add" }, "Add another " + field.name.toLowerCase());
    }
    if (this.addButton) {
      var self = this;
      this.addButton.addEventListener("click", function () {
        var entry = self.addEntry();
        var focusable = entry.root.querySelector("input, select, textarea");
        if (focusable) focusable.focus();
        changed();
      });
      this.root.appendChild(this.addButton);
    }
    this.root.appendChild(this.resultsEl);
    if (field.widget !== "entity" && (field.widget !== "nested" || field.min >= 1)) {
      var count = field.widget === "nested" ? field.min : 1;
      for (var i = 0; i < count; i++) this.addEntry();
    }
    this.updateAdd();
  }

  FieldView.prototype.describedBy = function () {
    return [this.field.definition || this.field.description ? this.helpId : null, this.resultsId].filter(Boolean).join(" ");
  };

  FieldView.prototype.updateAdd = function () {
    var max = this.field.max;
    var full = max !== null && max !== undefined && this.entries.length >= max;
    if (this.addButton) this.addButton.hidden = full;
    if (this.picker) this.picker.setFull(max !== null && max !== undefined && this.entries.length >= max);
  };

  FieldView.prototype.addEntry = function (value) {
    var n = this.entries.length + 1;
    var inputId = this.id + "-input-" + n;
    var entry = makeEntry(this, inputId, n, value);
    this.entries.push(entry);
    this.list.appendChild(entry.root);
    this.updateAdd();
    return entry;
  };

  FieldView.prototype.removeEntry = function (entry) {
    this.entries = this.entries.filter(function (e) { return e !== entry; });
    entry.root.remove();
    if (entry.child) entry.child.removed = true;
    if (entry.dispose) entry.dispose();
    // The name keeps labelling the first control left.
    if (this.labelled && this.entries.length && this.entries[0].inputId) this.nameEl.setAttribute("for", this.entries[0].inputId);
    this.updateAdd();
    changed();
  };

  FieldView.prototype.values = function (out, index) {
    var values = [];
    this.entries.forEach(function (entry) {
      var value = entry.value(out, index);
      if (Array.isArray(value)) values.push.apply(values, value); // a reference's checked candidates
      else if (value) values.push(value);
    });
    return values;
  };

  FieldView.prototype.firstText = function () {
    for (var i = 0; i < this.entries.length; i++) {
      var value = this.entries[i].value([], {});
      if (value && value["@value"] !== undefined && String(value["@value"]).trim()) return String(value["@value"]).trim();
    }
    return "";
  };

  FieldView.prototype.clearResults = function () {
    clear(this.resultsEl);
    this.root.classList.remove("has-violation");
    this.root.querySelectorAll("[aria-invalid]").forEach(function (c) {
      if (c.closest(".field") === this.root) c.removeAttribute("aria-invalid");
    }, this);
  };

  FieldView.prototype.addResult = function (result) {
    this.resultsEl.appendChild(resultItem(result));
    if (result.severity === "Violation") {
      this.root.classList.add("has-violation");
      this.root.querySelectorAll("input, select, textarea").forEach(function (c) {
        if (c.closest(".field") === this.root) c.setAttribute("aria-invalid", "true");
      }, this);
    }
    var details = this.root.closest("details");
    if (details) details.open = true;
  };

  FieldView.prototype.dispose = function () {
    this.entries.forEach(function (e) { if (e.child) e.child.removed = true; if (e.dispose) e.dispose(); });
  };

  function resultItem(result) {
    var severity = (result.severity || "Violation").toLowerCase();
    var item = el("li", { class: severity }, el("strong", {}, result.severity || "Violation"), ": ", result.message || "");
    if (result.value) appendChild(item, [" (value ", el("code", {}, result.value), ")"]);
    if (result.hint) item.appendChild(el("span", { class: "fix" }, "Fix: " + result.hint));
    return item;
  }

  // One value of a field: its controls and how it serialises (a JSON-LD value object, or null when empty).
  function makeEntry(fv, inputId, n, initial) {
    var field = fv.field;
    var entry = { inputId: inputId, root: el("div", { class: "value-row" }) };
    var widget = field.widget;
    // Second and later values are labelled too (the field's name labels the first).
    if (n > 1 && widget !== "entity" && widget !== "nested") {
      entry.root.appendChild(el("label", { for: inputId, class: "visually-hidden" }, field.name + ", value " + n));
    }
    var common = { id: inputId, "aria-describedby": fv.describedBy(), oninput: function () { onEdit(fv); }, onchange: function () { onEdit(fv); } };
    if (fv.required && n === 1) {
      common.required = true;
      common["aria-required"] = "true";
    }
    if (widget === "entity") {
      entry.root = el("li", { class: "chip" });
      entry.chip = initial;
      var text = el("span", {});
      var refresh = function () {
        clear(text);
        var target = initial.node ? initial.node.id() : initial.iri;
        var label = initial.node ? initial.node.label() : initial.label;
        appendChild(text, [label, " ", el("span", { class: "meta" }, "(" + (initial.node ? "new: " : "") + compact(target) + ")")]);
      };
      refresh();
      entry.refresh = refresh;
      entry.root.appendChild(text);
      entry.root.appendChild(el("button", {
        type: "button",
        "aria-label": "Remove " + (initial.node ? initial.node.label() : initial.label) + " from " + field.name,
        onclick: function () { fv.removeEntry(entry); fv.picker.input.focus(); },
      }, "×"));
      entry.remove = function () { fv.removeEntry(entry); };
      if (initial.node) initial.node.chips.push(entry);
      entry.dispose = function () {
        if (initial.node) initial.node.chips = initial.node.chips.filter(function (c) { return c !== entry; });
      };
      entry.value = function () {
        if (initial.node) return initial.node.removed ? null : { "@id": initial.node.id() };
        return { "@id": initial.iri };
      };
      entry.inputId = null;
      return entry;
    }
    if (widget === "nested") {
      var nestedForm = spec.nested[field.nested] || formsById[field.nested];
      var child = new EntityNode(nestedForm, "nested", fv);
      entry.child = child;
      entry.inputId = null;
      var box = el("fieldset", { class: "nested" }, el("legend", {}, nestedForm.label + " " + n));
      if (nestedForm.subtypes && nestedForm.subtypes.length) {
        var kindId = uid("kind");
        var kinds = el("select", { id: kindId }, el("option", { value: nestedForm.id }, nestedForm.label + " (general)"));
        nestedForm.subtypes.forEach(function (s) { kinds.appendChild(el("option", { value: s.id }, s.label)); });
        kinds.addEventListener("change", function () {
          child.draw(formsById[kinds.value] || nestedForm);
          changed();
        });
        box.appendChild(el("label", { for: kindId }, "Kind of " + nestedForm.label.toLowerCase()));
        box.appendChild(kinds);
        entry.kinds = kinds;
      }
      box.appendChild(child.results);
      box.appendChild(child.body);
      box.appendChild(el("button", {
        type: "button",
        class: "secondary entry-remove",
        onclick: function () { fv.removeEntry(entry); },
      }, "Remove this " + nestedForm.label.toLowerCase()));
      child.draw(nestedForm);
      entry.root = box;
      entry.value = function (out, index) {
        if (child.removed) return null;
        child.serialise(out, index);
        return { "@id": child.id() };
      };
      return entry;
    }
    if (widget === "date") {
      var allowed = PRECISIONS.filter(function (p) { return (field.datatypes || [XSD + "date"]).indexOf(p[0]) >= 0; });
      if (!allowed.length) allowed = [PRECISIONS[0]];
      var precisionId = inputId + "-precision";
      var precision = el("select", { id: precisionId, class: "precision", onchange: function () { retype(true); onEdit(fv); } });
      allowed.forEach(function (p) { precision.appendChild(el("option", { value: p[0] }, p[1])); });
      var input = el("input", common);
      var retype = function (convert) {
        var old = input.value;
        var dt = precision.value;
        if (dt === XSD + "date") { input.type = "date"; input.removeAttribute("placeholder"); }
        else if (dt === XSD + "gYearMonth") { input.type = "month"; input.setAttribute("placeholder", "2025-07"); }
        else if (dt === XSD + "gYear") { input.type = "text"; input.setAttribute("inputmode", "numeric"); input.setAttribute("placeholder", "2025"); input.setAttribute("pattern", "-?[0-9]{4}"); }
        else { input.type = "text"; input.setAttribute("placeholder", "2025-05-11T00:00:00+03:00"); input.removeAttribute("pattern"); }
        if (dt !== XSD + "gYear") input.removeAttribute("pattern");
        if (convert && old) {
          var m = /^(-?\d{4})(?:-(\d{2}))?(?:-(\d{2}))?/.exec(old);
          if (m) {
            if (dt === XSD + "gYear") input.value = m[1];
            else if (dt === XSD + "gYearMonth") input.value = m[1] + "-" + (m[2] || "01");
            else if (dt === XSD + "date") input.value = m[1] + "-" + (m[2] || "01") + "-" + (m[3] || "01");
            else input.value = m[1] + "-" + (m[2] || "01") + "-" + (m[3] || "01") + "T00:00:00Z";
          }
        }
      };
      retype(false);
      entry.root.appendChild(input);
      entry.root.appendChild(el("label", { for: precisionId, class: "inline" }, "known to the"));
      entry.root.appendChild(precision);
      entry.precision = precision;
      entry.input = input;
      entry.value = function () {
        var v = input.value.trim();
        return v ? { "@value": v, "@type": precision.value } : null;
      };
      return entry;
    }
    if (widget === "choice") {
      var select = el("select", common, el("option", { value: "" }, "(none)"));
      (field.choices || []).forEach(function (c) { select.appendChild(el("option", { value: c.value }, c.label || compact(c.value))); });
      entry.root.appendChild(select);
      entry.input = select;
      entry.value = function () { return select.value ? { "@id": select.value } : null; };
      return entry;
    }
    if (widget === "boolean") {
      var yesNo = el("select", common, el("option", { value: "" }, "(not said)"), el("option", { value: "true" }, "yes"), el("option", { value: "false" }, "no"));
      entry.root.appendChild(yesNo);
      entry.input = yesNo;
      entry.value = function () { return yesNo.value ? { "@value": yesNo.value, "@type": XSD + "boolean" } : null; };
      return entry;
    }
    if (widget === "decimal" || widget === "integer") {
      common.type = "number";
      common.step = widget === "integer" ? "1" : "any";
      common.inputmode = widget === "integer" ? "numeric" : "decimal";
      var number = el("input", common);
      entry.root.appendChild(number);
      entry.input = number;
      var numberType = (field.datatypes && field.datatypes[0]) || XSD + widget;
      entry.value = function () { var v = number.value.trim(); return v ? { "@value": v, "@type": numberType } : null; };
      return entry;
    }
    if (widget === "ref") return refEntry(fv, entry, common);
    if (widget === "iri") {
      common.type = "url";
      common.placeholder = "https://…";
      var url = el("input", common);
      entry.root.appendChild(url);
      entry.input = url;
      entry.value = function () { var v = url.value.trim(); return v && safeUrl(v) === v ? { "@id": v } : (v ? { "@id": safeUrl(v) || v } : null); };
      return entry;
    }
    // text and langString
    var long = LONG_TEXT.test(field.path);
    if (!long) common.type = "text";
    var textInput = el(long ? "textarea" : "input", common);
    if (long) textInput.setAttribute("rows", "2");
    if (typeof initial === "string") textInput.value = initial;
    entry.root.appendChild(textInput);
    entry.input = textInput;
    if (widget === "langString") {
      var langId = inputId + "-lang";
      var lang = el("select", { id: langId, class: "language", onchange: function () { onEdit(fv); } });
      LANGUAGES.forEach(function (l) { lang.appendChild(el("option", { value: l[0] }, l[1] + " (" + l[0] + ")")); });
      entry.root.appendChild(el("label", { for: langId, class: "inline" }, "in"));
      entry.root.appendChild(lang);
      entry.lang = lang;
      entry.value = function () { var v = textInput.value.trim(); return v ? { "@value": v, "@language": lang.value } : null; };
    } else {
      var textType = field.datatypes && field.datatypes[0] && field.datatypes[0] !== XSD + "string" ? field.datatypes[0] : null;
      entry.value = function () {
        var v = textInput.value.trim();
        if (!v) return null;
        return textType ? { "@value": v, "@type": textType } : { "@value": v };
      };
    }
    return entry;
  }

  // ---- references (widget "ref"): a value picked among nodes that already exist, by label, never an IRI typed by
  // hand. "…-of-this" (pg:accordingTo): the ``through`` children (reports) of the position this part belongs to,
  // in this draft, each a blank node id; "…-of-answered" (pg:acceptsTerm, pg:rejectsTerm): the ``through`` values
  // (terms) of the positions picked in this form's ``via`` field (pg:respondsTo), those with IRIs of their own.
  var refEntries = [];
  var answeredCache = new Map(); // position IRI -> Promise<{terms: [{value, label}], blank: n}>

  function ownerOf(node) {
    while (node && node.role === "nested" && node.parentField) node = node.parentField.node;
    return node;
  }

  function isGone(node) {
    for (; node; node = node.parentField ? node.parentField.node : null) if (node.removed) return true;
    return false;
  }

  // What the first value of a field shows: a picked entity's label, a choice's label, else its text.
  function shownValue(fv) {
    if (!fv || !fv.entries.length) return "";
    var entry = fv.entries[0];
    if (entry.chip) return entry.chip.node ? entry.chip.node.label() : entry.chip.label || "";
    if (entry.input && entry.input.tagName === "SELECT") {
      return entry.input.value ? entry.input.options[entry.input.selectedIndex].text : "";
    }
    return fv.firstText();
  }

  function reportCandidates(fv) {
    var owner = ownerOf(fv.node);
    if (!owner) return [];
    return owner.childrenAt(fv.field.through).filter(function (r) { return !r.removed; }).map(function (report, i) {
      var source = shownValue(report.fieldByPath(PG + "source"));
      var sourcing = shownValue(report.fieldByPath(PG + "sourcing"));
      var label = (source || "no source yet") + (sourcing ? " (" + sourcing + ")" : "");
      return { value: report.id(), label: report.form.label + " " + (i + 1) + ": " + label };
    });
  }

  function localPath(iri) {
    var url = pageUrl(iri);
    return url.indexOf(window.location.origin + "/") === 0 ? url.slice(window.location.origin.length) : null;
  }

  function firstOf(values) {
    return Array.isArray(values) ? values[0] : values;
  }

  // A term's label from its JSON-LD: its wording (or label), then its kind as the forms name it.
  function termLabel(doc, iri) {
    var text = itemLabel({ label: doc.wording || doc.prefLabel || doc.label, id: iri });
    var kinds = [].concat(doc.type || doc["@type"] || []).filter(function (t) { return formsById[t] && t !== "Term"; });
    return kinds.length ? text + " — " + formsById[kinds[0]].label : text;
  }

  function answeredTerms(iri, through) {
    if (!answeredCache.has(iri)) {
      var loading = (async function () {
        var path = localPath(iri);
        if (!path) return { terms: [], blank: 0 };
        var doc = (await api(path, { accept: "application/ld+json" })).json || {};
        // The context names it by its local name ("hasTerm"); a full or compact IRI would do as well.
        var local = through.split(/[#\/]/).pop();
        var key = Object.keys(doc).filter(function (k) { return k === local || expand(k) === through; })[0];
        var iris = [], blank = 0;
        [].concat(key ? doc[key] : []).forEach(function (t) {
          var id = typeof t === "string" ? t : t && (t.id || t["@id"]);
          var full = id ? expand(id) : null;
          if (full && /^https?:\/\//.test(full)) iris.push(full);
          else blank += 1; // an embedded term without an IRI: nothing can point at it
        });
        var terms = await Promise.all(iris.map(async function (t) {
          try {
            var own = localPath(t);
            var termDoc = own ? (await api(own, { accept: "application/ld+json" })).json || {} : {};
            return { value: t, label: termLabel(termDoc, t) };
          } catch (error) {
            return { value: t, label: compact(t) };
          }
        }));
        return { terms: terms, blank: blank };
      })();
      loading.catch(function () { answeredCache.delete(iri); });
      answeredCache.set(iri, loading);
    }
    return answeredCache.get(iri);
  }

  async function termCandidates(fv) {
    var via = fv.node.fieldByPath(fv.field.via);
    var viaName = via ? via.field.name : "the position it answers";
    var picks = via ? via.entries.map(function (e) { return e.chip; }).filter(Boolean) : [];
    if (!picks.length) return { candidates: [], note: "Pick the position it answers under “" + viaName + "” first; its terms are offered here." };
    var candidates = [], notes = [];
    for (var i = 0; i < picks.length; i++) {
      var pick = picks[i];
      if (pick.node) {
        notes.push("“" + pick.node.label() + "” is new in this draft: its terms have no IRIs to point at yet.");
        continue;
      }
      try {
        var found = await answeredTerms(pick.iri, fv.field.through);
        found.terms.forEach(function (t) { candidates.push({ value: t.value, label: t.label + (picks.length > 1 ? " (" + pick.label + ")" : "") }); });
        if (!found.terms.length) {
          notes.push("“" + pick.label + "”: " + (found.blank
            ? "this position's terms have no IRIs of their own; an answer can point only at terms with IRIs, so give them IRIs (a correction) or say in the summary which terms are accepted."
            : "this position has no terms to point at."));
        } else if (found.blank) {
          notes.push("“" + pick.label + "”: " + found.blank + " more of its terms have no IRIs of their own and cannot be picked.");
        }
      } catch (error) {
        notes.push("“" + pick.label + "”: its terms could not be loaded (" + error.message + ").");
      }
    }
    return { candidates: candidates, note: notes.join(" ") };
  }

  function refEntry(fv, entry, common) {
    var field = fv.field;
    var many = field.max === null || field.max === undefined || field.max > 1;
    var note = el("p", { class: "help ref-note", id: entry.inputId + "-note", "aria-live": "polite" });
    var control;
    if (many) {
      control = el("div", { class: "ref-choices", role: "group", "aria-labelledby": fv.nameId, "aria-describedby": [fv.describedBy(), note.id].join(" ") });
    } else {
      common["aria-describedby"] = [common["aria-describedby"], note.id].filter(Boolean).join(" ");
      control = el("select", common, el("option", { value: "" }, "(none)"));
    }
    entry.root.appendChild(control);
    entry.root.appendChild(note);
    entry.input = many ? null : control;
    entry.shown = null; // the candidates drawn, to redraw only on a change
    entry.node = fv.node;
    var chosen = function () {
      if (!many) return control.value ? [control.value] : [];
      return Array.prototype.filter.call(control.querySelectorAll("input[type=checkbox]"), function (c) { return c.checked; })
        .map(function (c) { return c.value; });
    };
    var draw = function (candidates, text) {
      var key = JSON.stringify([candidates, text]);
      if (key === entry.shown) return false;
      entry.shown = key;
      var keep = chosen();
      note.textContent = text || "";
      if (many) {
        clear(control);
        candidates.forEach(function (c, i) {
          var box = el("input", { type: "checkbox", id: entry.inputId + "-" + (i + 1), value: c.value, checked: keep.indexOf(c.value) >= 0, onchange: function () { onEdit(fv); } });
          control.appendChild(el("div", {}, el("label", { class: "inline" }, box, c.label)));
        });
      } else {
        while (control.options.length > 1) control.remove(1);
        candidates.forEach(function (c) { control.appendChild(el("option", { value: c.value }, c.label)); });
        control.value = keep.length && candidates.some(function (c) { return c.value === keep[0]; }) ? keep[0] : "";
      }
      return keep.join(" ") !== chosen().join(" "); // a chosen candidate went away
    };
    entry.refresh = async function () {
      if (isGone(fv.node)) return;
      var lost;
      if (/-of-answered$/.test(field.refers)) {
        var seq = entry.seq = (entry.seq || 0) + 1;
        var found = await termCandidates(fv);
        if (seq !== entry.seq) return; // a later refresh is under way
        lost = draw(found.candidates, found.note);
      } else {
        var reports = reportCandidates(fv);
        lost = draw(reports, reports.length ? "" : "Add a report to this position (under “Reports”) first; then pick it here.");
      }
      if (lost) changed();
    };
    entry.value = function () {
      var ids = chosen().map(function (v) { return { "@id": v }; });
      return many ? ids : ids[0] || null;
    };
    entry.dispose = function () { refEntries = refEntries.filter(function (e) { return e !== entry; }); };
    refEntries.push(entry);
    // The field it depends on may be drawn after it: look once the form is drawn.
    window.setTimeout(entry.refresh, 0);
    return entry;
  }

  function refreshRefs() {
    refEntries = refEntries.filter(function (e) { return !isGone(e.node); }); // parts removed since
    refEntries.forEach(function (entry) { entry.refresh(); });
  }

  function onEdit(fv) {
    var node = fv.node;
    if (node.role !== "nested" && (LABEL_PATHS.indexOf(fv.field.path) >= 0 || DATE_PATHS.indexOf(fv.field.path) >= 0)) {
      scheduleMint(node);
      if (LABEL_PATHS.indexOf(fv.field.path) >= 0) node.chips.forEach(function (chip) { chip.refresh(); });
    }
    changed();
  }

  // ------------------------------------------------------------------------------------------ pickers
  function itemLabel(item) {
    var keys = ["prefLabel", "headline", "summary", "name", "title", "label"];
    for (var i = 0; i < keys.length; i++) {
      var v = item[keys[i]];
      if (v === undefined || v === null) continue;
      if (typeof v === "string") return v;
      if (Array.isArray(v) && v.length) return typeof v[0] === "string" ? v[0] : v[0]["@value"] || "";
      if (typeof v === "object") {
        if (v.en) return Array.isArray(v.en) ? v.en[0] : v.en;
        var langs = Object.keys(v);
        if (langs.length) return Array.isArray(v[langs[0]]) ? v[langs[0]][0] : v[langs[0]];
      }
    }
    return compact(item.id || "");
  }

  function itemDate(item) {
    var keys = Object.keys(item).filter(function (k) { return /^(statedOn|datePublished|startDate|date)/.test(k); });
    return keys.length ? String(item[keys[0]]) : "";
  }

  // A combobox over the field's collection (GET /<collection>?q=…&limit=10): type, move with the arrow keys,
  // pick with Enter; "New …" adds a new entity of that kind to the draft.
  function Picker(fv) {
    var self = this;
    this.fv = fv;
    this.options = [];
    this.active = -1;
    this.seq = 0;
    var field = fv.field;
    var listId = fv.id + "-list";
    this.input = el("input", {
      id: fv.id + "-input-1",
      type: "text",
      role: "combobox",
      autocomplete: "off",
      spellcheck: "false",
      "aria-autocomplete": "list",
      "aria-expanded": "false",
      "aria-controls": listId,
      "aria-describedby": fv.describedBy(),
      placeholder: "Type to search " + (field.collection || "") + "…",
    });
    if (fv.required) this.input.setAttribute("aria-required", "true");
    this.listbox = el("ul", { id: listId, role: "listbox", "aria-label": field.name + ": matches", hidden: true });
    this.status = el("p", { class: "visually-hidden", "aria-live": "polite" });
    this.root = el("div", { class: "picker" }, this.input, this.listbox, this.status);
    fv.nameEl.setAttribute("for", this.input.id);
    this.timer = null;
    this.input.addEventListener("input", function () {
      window.clearTimeout(self.timer);
      self.timer = window.setTimeout(function () { self.search(); }, 250);
    });
    this.input.addEventListener("keydown", function (event) { self.key(event); });
    this.input.addEventListener("blur", function () { window.setTimeout(function () { self.close(); }, 150); });
  }

  Picker.prototype.setFull = function (full) {
    this.input.hidden = full;
    if (full) this.close();
  };

  Picker.prototype.search = async function () {
    var q = this.input.value.trim();
    var seq = ++this.seq;
    if (!q) { this.close(); return; }
    var field = this.fv.field;
    var found = [];
    if (field.collection) {
      try {
        var params = new URLSearchParams({ q: q, limit: "10" });
        var page = (await api("/" + encodeURIComponent(field.collection) + "?" + params.toString())).json;
        found = (page.items || []).map(function (item) {
          return { iri: item.id, label: itemLabel(item), date: itemDate(item), type: item.type };
        });
      } catch (error) {
        if (seq === this.seq) this.status.textContent = error.message;
      }
    }
    if (seq !== this.seq) return; // a later search is under way
    var lower = q.toLowerCase();
    var kind = formForField(field);
    // New entities of the draft that fit this field come first.
    var drafted = draft.nodes.filter(function (n) {
      return n.role === "new" && !n.removed && (!field.collection || n.form.collection === field.collection) &&
        n.label().toLowerCase().indexOf(lower) >= 0;
    }).map(function (n) { return { node: n, label: n.label(), date: "", type: "new in this draft" }; });
    var options = drafted.concat(found);
    if (kind) options.push({ create: kind, label: q });
    this.show(options);
  };

  Picker.prototype.show = function (options) {
    var self = this;
    this.options = options;
    this.active = options.length ? 0 : -1;
    clear(this.listbox);
    options.forEach(function (option, i) {
      var content;
      if (option.create) {
        content = ["New " + option.create.label.toLowerCase() + " “", option.label, "”", el("span", { class: "meta" }, " — add it to this draft")];
      } else {
        var meta = [option.type, option.date, option.iri ? compact(option.iri) : ""].filter(Boolean).join(" · ");
        content = [option.label, " ", el("span", { class: "meta" }, meta ? "— " + meta : "")];
      }
      var li = el("li", {
        id: self.listbox.id + "-" + i,
        role: "option",
        "aria-selected": i === self.active ? "true" : "false",
        onmousedown: function (event) { event.preventDefault(); },
        onclick: function () { self.pick(i); },
      }, content);
      self.listbox.appendChild(li);
    });
    this.listbox.hidden = !options.length;
    this.input.setAttribute("aria-expanded", options.length ? "true" : "false");
    this.status.textContent = options.length ? options.length + " choices; arrow keys to move, Enter to pick" : "nothing found";
    this.mark();
  };

  Picker.prototype.mark = function () {
    var self = this;
    Array.prototype.forEach.call(this.listbox.children, function (li, i) {
      li.setAttribute("aria-selected", i === self.active ? "true" : "false");
      if (i === self.active) li.scrollIntoView({ block: "nearest" });
    });
    if (this.active >= 0) this.input.setAttribute("aria-activedescendant", this.listbox.id + "-" + this.active);
    else this.input.removeAttribute("aria-activedescendant");
  };

  Picker.prototype.close = function () {
    this.listbox.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  };

  Picker.prototype.key = function (event) {
    var open = !this.listbox.hidden && this.options.length;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (!open) { this.search(); return; }
      this.active = (this.active + 1) % this.options.length;
      this.mark();
    } else if (event.key === "ArrowUp") {
      if (!open) return;
      event.preventDefault();
      this.active = (this.active - 1 + this.options.length) % this.options.length;
      this.mark();
    } else if (event.key === "Enter") {
      if (open && this.active >= 0) {
        event.preventDefault();
        this.pick(this.active);
      }
    } else if (event.key === "Escape") {
      if (open) { event.preventDefault(); this.close(); }
    }
  };

  Picker.prototype.pick = function (i) {
    var option = this.options[i];
    if (!option) return;
    var value;
    if (option.create) {
      var node = topLevel(option.create, "new");
      $("new-entities").appendChild(node.box);
      var labelField = node.labelField();
      if (labelField && labelField.entries.length) labelField.entries[0].input.value = option.label;
      scheduleMint(node);
      value = { node: node };
    } else if (option.node) {
      value = { node: option.node };
    } else {
      value = { iri: option.iri, label: option.label };
    }
    this.fv.addEntry(value);
    this.input.value = "";
    this.close();
    this.status.textContent = "Chosen: " + (value.node ? value.node.label() : value.label);
    if (!this.input.hidden) this.input.focus();
    else if (value.node) {
      var first = value.node.box.querySelector("input, select, textarea");
      if (first) first.focus();
    }
    changed();
  };

  // ------------------------------------------------------------------------------------------ validation
  var check = { timer: null, inFlight: false, again: false, validated: null, violations: null };

  function mode() {
    var chosen = document.querySelector("input[name=mode]:checked");
    return chosen ? chosen.value : "form";
  }

  function currentBody() {
    if (mode() === "paste") {
      var text = $("paste-text").value;
      return text.trim() ? { body: text, contentType: $("paste-type").value, index: null } : null;
    }
    if (!draft.main) return null;
    var out = [], index = {};
    draft.nodes.forEach(function (node) { if (!node.removed) node.serialise(out, index); });
    return { body: JSON.stringify(out), contentType: "application/ld+json", index: index };
  }

  function changed() {
    refreshRefs();
    // A "change" that changes nothing (a text box losing focus as the submit button is pressed) must not send the
    // same entry again: that would disable the button under the click.
    var current = check.timer === null && !check.inFlight ? currentBody() : null;
    if (current && current.body === check.validated) { updateSubmit(); return; }
    window.clearTimeout(check.timer);
    check.timer = window.setTimeout(function () { check.timer = null; validate(); }, 700);
    updateSubmit();
  }

  async function validate() {
    if (check.inFlight) { check.again = true; return; }
    var current = currentBody();
    if (!current) { check.validated = null; updateSubmit(); return; }
    check.inFlight = true;
    updateSubmit();
    try {
      var answer = await api("/validate", { method: "POST", body: current.body, contentType: current.contentType, accept: "application/json" });
      showReport(answer.json, current.index);
      check.validated = current.body;
      check.violations = answer.json.violations;
    } catch (error) {
      check.validated = null;
      check.violations = null;
      showProblem(mode() === "paste" ? $("paste-results") : $("draft-results"), error);
    } finally {
      check.inFlight = false;
      if (check.again) {
        check.again = false;
        validate();
      } else {
        updateSubmit();
      }
    }
  }

  // The node a result is about: by focus_id (the node as sent), else by focus_node (compact IRI, or a blank node
  // named by what points at it: "[pg:hasTerm of pgid:position/…]").
  function resultNode(result, index) {
    if (result.focus_id && index[result.focus_id]) return index[result.focus_id];
    var focus = result.focus_node || "";
    if (index[expand(focus)]) return index[expand(focus)];
    var m = /^\[(\S+) of (.+)\]$/.exec(focus);
    if (m) {
      var parent = resultNode({ focus_node: m[2] }, index);
      var children = parent ? parent.childrenAt(expand(m[1])) : [];
      if (children.length === 1) return children[0];
    }
    return null;
  }

  function showReport(report, index) {
    var top = mode() === "paste" ? $("paste-results") : $("draft-results");
    clear(top);
    if (index) draft.nodes.forEach(function clearAll(node) {
      node.clearResults();
      node.fields.forEach(function (fv) { fv.entries.forEach(function (e) { if (e.child) clearAll(e.child); }); });
    });
    var loose = [];
    (report.results || []).forEach(function (result) {
      var node = index ? resultNode(result, index) : null;
      // "pg:region | pg:wording" (sh:alternativePath): the result shows at each of the fields.
      var fields = node && result.path
        ? result.path.split(" | ").map(function (p) { return node.fieldByPath(expand(p.trim())); }).filter(Boolean)
        : [];
      if (fields.length) fields.forEach(function (fv) { fv.addResult(result); });
      else if (node) node.results.appendChild(resultItem(result));
      else loose.push(result);
    });
    if (loose.length) {
      var list = el("ul", { class: "results" });
      loose.forEach(function (result) {
        var item = resultItem(result);
        if (result.focus_node) item.insertBefore(el("code", {}, result.focus_node + (result.path ? " " + result.path : "") + " — "), item.firstChild);
        list.appendChild(item);
      });
      top.appendChild(el("h3", {}, index ? "Results not at a field" : "Validation results"));
      top.appendChild(list);
    }
  }

  function updateSubmit() {
    var button = $("submit-batch");
    var status = $("validation-status");
    var current = currentBody();
    var pending = check.inFlight || check.timer !== null;
    var ready = false;
    if (!current) {
      button.textContent = "Submit for review";
      status.textContent = mode() === "paste" ? "Paste or upload data to check it." : "Choose what to create.";
    } else if (pending || check.validated !== current.body) {
      button.textContent = "Checking…";
      status.textContent = "Checking the entry against the shapes…";
    } else if (check.violations) {
      var n = check.violations;
      button.textContent = n + (n === 1 ? " violation remains" : " violations remain") + " — fix to submit";
      status.textContent = n + (n === 1 ? " violation" : " violations") + " to fix before submitting; warnings do not block.";
    } else {
      ready = true;
      button.textContent = "Submit for review";
      status.textContent = "No violations: ready to submit.";
    }
    button.disabled = !ready;
  }

  // ------------------------------------------------------------------------------------------ submitting
  async function submit() {
    var button = $("submit-batch");
    var out = $("submit-result");
    clear(out);
    button.disabled = true;
    if (mode() === "form") await mintsSettled();
    var current = currentBody();
    if (!current) return;
    var params = new URLSearchParams();
    if ($("batch-label").value.trim()) params.set("label", $("batch-label").value.trim());
    if ($("batch-note").value.trim()) params.set("note", $("batch-note").value.trim());
    var query = params.toString();
    try {
      var answer = await api("/batches" + (query ? "?" + query : ""), { method: "POST", body: current.body, contentType: current.contentType });
      var batch = answer.json;
      var toList = el("a", { href: "#my-batches", onclick: function (event) { event.preventDefault(); showTab("my-batches"); } }, "see it in My batches");
      out.appendChild(el("div", { class: "ok", "data-batch": batch.id }, "Submitted as batch ", el("code", { class: "batch-id" }, batch.id), " (" + batch.triples + " triples) for review: ", toList, ". ",
        el("button", { type: "button", class: "secondary", onclick: function () { resetDraft(); $("form-choice").focus(); } }, "Start a new entry")));
      check.validated = null;
      button.textContent = "Submitted";
    } catch (error) {
      if (error.status === 422 && error.problem && error.problem.report) {
        showReport(error.problem.report, current.index);
        check.violations = error.problem.report.violations;
        showProblem(out, error);
      } else {
        showProblem(out, error);
      }
      updateSubmit();
    }
  }

  function dropDraft() {
    draft.nodes.forEach(function (node) { node.removed = true; });
    refEntries = [];
    draft.main = null;
    draft.nodes = [];
    draft.blanks = {};
    mintTimers.forEach(function (t) { window.clearTimeout(t); });
    mintTimers.clear();
  }

  function resetDraft() {
    dropDraft();
    clear($("entry-form"));
    clear($("new-entities"));
    clear($("draft-results"));
    clear($("submit-result"));
    $("form-description").textContent = "";
    $("form-choice").value = "";
    $("batch-label").value = "";
    $("batch-note").value = "";
    check.validated = null;
    check.violations = null;
    updateSubmit();
  }

  function chooseForm() {
    var id = $("form-choice").value;
    dropDraft();
    clear($("entry-form"));
    clear($("new-entities"));
    clear($("draft-results"));
    clear($("submit-result"));
    var form = formsById[id];
    $("form-description").textContent = form ? form.description || "" : "";
    if (!form) { updateSubmit(); return; }
    var node = topLevel(form, "main");
    draft.main = node;
    $("entry-form").appendChild(node.box);
    scheduleMint(node);
    changed();
  }

  // ------------------------------------------------------------------------------------------ paste and upload
  var EXTENSIONS = { ttl: "text/turtle", jsonld: "application/ld+json", json: "application/ld+json", nt: "application/n-triples", trig: "application/trig" };

  function upload() {
    var file = $("upload").files[0];
    if (!file) return;
    var extension = file.name.split(".").pop().toLowerCase();
    if (EXTENSIONS[extension]) $("paste-type").value = EXTENSIONS[extension];
    file.text().then(function (text) {
      $("paste-text").value = text;
      changed();
    });
  }

  function switchMode() {
    var paste = mode() === "paste";
    $("paste-mode").hidden = !paste;
    $("form-mode").hidden = paste;
    check.validated = null;
    changed();
  }

  // ------------------------------------------------------------------------------------------ my batches
  async function loadMyBatches() {
    var box = $("my-batches-list");
    if (!who || !who.may || !who.may.submit) return;
    try {
      var answer = (await api("/batches")).json;
      var mine = (answer.batches || []).filter(function (b) { return b.curator === who.name; });
      clear(box);
      if (!mine.length) {
        box.appendChild(el("p", {}, "You have not submitted any batch yet."));
        return;
      }
      var body = el("tbody", {});
      mine.forEach(function (b) {
        var history = b.history || [];
        var last = history.length ? history[history.length - 1] : null;
        var submitted = history.filter(function (h) { return h.action === "submitted"; })[0];
        var note = b.note || (submitted && submitted.note) || "";
        body.appendChild(el("tr", { id: "batch-row-" + b.id, "data-batch": b.id },
          el("td", {}, el("code", {}, b.id)),
          el("td", {}, b.label || ""),
          el("td", { class: "state" }, b.state),
          el("td", {}, note),
          el("td", {}, (b.submitted || "").replace("T", " ")),
          el("td", {}, last ? [last.action, " by ", last.actor, ", ", (last.time || "").replace("T", " "), last.note ? ": " + last.note : ""] : "")));
      });
      var head = el("thead", {}, el("tr", {}, ["Batch", "Label", "State", "Note", "Submitted", "Last change"].map(function (h) { return el("th", { scope: "col" }, h); })));
      box.appendChild(el("div", { class: "table-wrap" }, el("table", {}, el("caption", { class: "visually-hidden" }, "Batches you submitted, newest first"), head, body)));
    } catch (error) {
      showProblem(box, error);
    }
  }

  // ------------------------------------------------------------------------------------------ start
  function start() {
    $("no-script").hidden = true;
    $("account").hidden = false;
    $("sign-in").addEventListener("submit", function (event) {
      event.preventDefault();
      var token = $("token").value.trim();
      if (token) signIn(token, false);
    });
    $("sign-out").addEventListener("click", signOut);
    Object.keys(TABS).forEach(function (name) {
      $(TABS[name]).addEventListener("click", function (event) {
        event.preventDefault();
        showTab(name);
        $(name).focus({ preventScroll: true });
      });
      $(name).setAttribute("tabindex", "-1");
    });
    $("form-choice").addEventListener("change", chooseForm);
    document.querySelectorAll("input[name=mode]").forEach(function (r) { r.addEventListener("change", switchMode); });
    $("paste-text").addEventListener("input", changed);
    $("paste-type").addEventListener("change", changed);
    $("upload").addEventListener("change", upload);
    $("submit-batch").addEventListener("click", submit);
    $("refresh-batches").addEventListener("click", loadMyBatches);
    updateSubmit();
    var stored = window.sessionStorage.getItem(TOKEN_KEY);
    if (stored) signIn(stored, true);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
