// The local Discord's chat page. Everything it shows comes from GET /local/state (long-polled);
// text from messages is only ever put in the page as text nodes (never as HTML), and the
// markdown subset below builds elements itself, so a message cannot inject markup or script.
"use strict";

const $ = (id) => document.getElementById(id);
let state = null;
let version = "";
let current = null;          // id of the channel shown
let opening = null;          // a thread just made, shown once the state has it
let lastRendered = "";
let palette = [];            // commands listed under the box
let selected = 0;
const pending = new Map();   // message id -> {buttons, until}: clicked, waiting for the answer
const picks = new Map();     // "message id/custom id" -> values ticked in a select menu
let formShown = "";          // interaction id of the form on screen (kept while typing)

// -- helpers -------------------------------------------------------------------------------

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch (err) {
    return null;
  }
}

function link(url, children) {
  const href = safeUrl(url);
  if (!href) return document.createTextNode(url);
  const a = el("a");
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer nofollow";
  a.append(...children);
  return a;
}

async function post(path, body) {
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body),
    });
    const text = await response.text();
    let data = {};
    try { data = JSON.parse(text); } catch (err) { data = {message: text.trim()}; }
    return {ok: response.ok, status: response.status, data};
  } catch (err) {
    return {ok: false, status: 0, data: {message: "the local Discord is not answering"}};
  }
}

function username() {
  return $("username").value.trim();
}

// -- markdown (Discord's subset) -----------------------------------------------------------

// Inline rules, tried in order at each position where one may start. `make` gets the match.
const INLINE = [
  {re: /\\([^A-Za-z0-9\s])/y, make: (m) => document.createTextNode(m[1])},
  {re: /(`+)([\s\S]*?[^`])\1(?!`)/y, make: (m) => el("code", "inline", m[2])},
  {re: /\[([^\]\n]+)\]\(<?(https?:\/\/[^\s)>]+)>?\)/y, make: (m, n) => link(m[2], inline(m[1], n))},
  {re: /<?(https?:\/\/[^\s<>]*[^\s<>.,:;"')\]!?])>?/y, make: (m) => link(m[1], [document.createTextNode(m[1])])},
  {re: /\*\*([\s\S]+?)\*\*(?!\*)/y, make: (m, n) => wrap("strong", m[1], n)},
  {re: /__([\s\S]+?)__(?!_)/y, make: (m, n) => wrap("u", m[1], n)},
  {re: /~~([\s\S]+?)~~/y, make: (m, n) => wrap("s", m[1], n)},
  {re: /\|\|([\s\S]+?)\|\|/y, make: (m, n) => spoiler(m[1], n)},
  {re: /\*(?=\S)([\s\S]*?\S)\*(?!\*)/y, make: (m, n) => wrap("em", m[1], n)},
  {re: /_(?=\S)([\s\S]*?\S)_(?![A-Za-z0-9_])/y, make: (m, n) => wrap("em", m[1], n), word: true},
  {re: /<@!?(\d+)>/y, make: (m, n) => el("span", "mention", "@" + (n.users[m[1]] || "unknown user"))},
  {re: /<#(\d+)>/y, make: (m, n) => el("span", "mention", "#" + (n.channels[m[1]] || "unknown channel"))},
  {re: /<@&(\d+)>/y, make: () => el("span", "mention", "@role")},
  {re: /<a?:(\w+):\d+>/y, make: (m) => document.createTextNode(":" + m[1] + ":")},
  {re: /<t:(-?\d+)(?::[tTdDfFR])?>/y, make: (m) => el("span", "mention", new Date(Number(m[1]) * 1000).toLocaleString())},
];
const STARTS = new Set(["\\", "`", "[", "h", "<", "*", "_", "~", "|"]);

function wrap(tag, text, names) {
  const node = el(tag);
  node.append(...inline(text, names));
  return node;
}

function spoiler(text, names) {
  const node = wrap("span", text, names);
  node.className = "spoiler";
  node.title = "spoiler: click to show";
  node.addEventListener("click", () => node.classList.toggle("shown"));
  return node;
}

function inline(text, names) {
  const out = [];
  let plain = "";
  let i = 0;
  outer: while (i < text.length) {
    if (STARTS.has(text[i])) {
      for (const rule of INLINE) {
        if (rule.word && i > 0 && /[A-Za-z0-9]/.test(text[i - 1])) continue;
        rule.re.lastIndex = i;
        const m = rule.re.exec(text);
        if (!m) continue;
        if (plain) { out.push(document.createTextNode(plain)); plain = ""; }
        i += m[0].length;  // before make(): it recurses, and the rules' lastIndex is shared
        out.push(rule.make(m, names));
        continue outer;
      }
    }
    plain += text[i];
    i += 1;
  }
  if (plain) out.push(document.createTextNode(plain));
  return out;
}

const LIST_ITEM = /^(\s*)([-*]|\d{1,9}\.) (.*)$/;
const QUOTE = /^> ?(.*)$/;
const HEADING = /^(#{1,3}) (.+)$/;

function paragraph(lines, names) {
  const node = el("div", "p");
  node.append(...inline(lines.join("\n"), names));
  return node;
}

function list(items, names) {
  // items: [{indent, ordered, text}] -> nested lists by indentation.
  const root = el(items[0].ordered ? "ol" : "ul");
  if (items[0].ordered && items[0].start !== 1) root.start = items[0].start;
  const stack = [{indent: items[0].indent, node: root}];
  for (const item of items) {
    while (stack.length > 1 && item.indent < stack[stack.length - 1].indent) stack.pop();
    let top = stack[stack.length - 1];
    if (item.indent > top.indent && top.node.lastElementChild) {
      const nested = el(item.ordered ? "ol" : "ul");
      top.node.lastElementChild.append(nested);
      top = {indent: item.indent, node: nested};
      stack.push(top);
    }
    const li = el("li");
    li.append(...inline(item.text, names));
    top.node.append(li);
  }
  return root;
}

function blocks(text, names, inQuote) {
  const frag = document.createDocumentFragment();
  const lines = text.split("\n");
  let i = 0;
  let para = [];
  const flush = () => { if (para.length) { frag.append(paragraph(para, names)); para = []; } };
  while (i < lines.length) {
    const line = lines[i];
    if (!inQuote && line.startsWith(">>> ")) {
      flush();
      const quote = el("blockquote");
      quote.append(blocks([line.slice(4), ...lines.slice(i + 1)].join("\n"), names, true));
      frag.append(quote);
      return frag;
    }
    if (!inQuote && QUOTE.test(line) && (line.startsWith("> ") || line === ">")) {
      flush();
      const quoted = [];
      while (i < lines.length && (lines[i].startsWith("> ") || lines[i] === ">")) {
        quoted.push(lines[i].replace(QUOTE, "$1"));
        i += 1;
      }
      const quote = el("blockquote");
      quote.append(blocks(quoted.join("\n"), names, true));
      frag.append(quote);
      continue;
    }
    if (LIST_ITEM.test(line)) {
      flush();
      const items = [];
      let m;
      while (i < lines.length && (m = LIST_ITEM.exec(lines[i]))) {
        const ordered = /\d/.test(m[2]);
        // A list of the other kind at the same depth is a new list.
        if (items.length && m[1].length <= items[0].indent && ordered !== items[0].ordered) break;
        items.push({indent: m[1].length, ordered, start: parseInt(m[2], 10), text: m[3]});
        i += 1;
      }
      frag.append(list(items, names));
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      const node = el("div", "h" + heading[1].length);
      node.append(...inline(heading[2], names));
      frag.append(node);
    } else if (line.startsWith("-# ")) {
      flush();
      const node = el("div", "subtext");
      node.append(...inline(line.slice(3), names));
      frag.append(node);
    } else {
      para.push(line);
    }
    i += 1;
  }
  flush();
  return frag;
}

function markdown(text, names) {
  names = names || {users: {}, channels: {}};
  const frag = document.createDocumentFragment();
  const fence = /```(?:([A-Za-z0-9_+#.-]+)\n)?([\s\S]*?)```/g;
  let last = 0;
  let m;
  while ((m = fence.exec(text)) !== null) {
    if (m.index > last) frag.append(blocks(text.slice(last, m.index).replace(/\n$/, ""), names, false));
    const pre = el("pre");
    const code = el("code", null, m[2].replace(/^\n/, "").replace(/\n$/, ""));
    if (m[1]) {
      pre.dataset.lang = m[1];
      code.className = "language-" + m[1];
    }
    pre.append(code);
    frag.append(pre);
    last = fence.lastIndex;
  }
  if (last < text.length) frag.append(blocks(text.slice(last).replace(/^\n/, ""), names, false));
  return frag;
}

// -- messages ------------------------------------------------------------------------------

function buttonsOf(channel, m) {
  const row = el("div", "buttons");
  const wait = pending.get(m.id);
  const waiting = wait && wait.buttons === JSON.stringify(m.buttons) && Date.now() < wait.until;
  for (const b of m.buttons) {
    const label = [b.emoji, b.label].filter(Boolean).join(" ") || b.custom_id || "link";
    if (b.url) {
      const anchor = link(b.url, [document.createTextNode(label + " ↗")]);
      if (anchor instanceof Element) anchor.className = "style-5";
      row.append(anchor);
      continue;
    }
    const button = el("button", "style-" + (b.style || 2), label);
    button.type = "button";
    button.disabled = !!b.disabled || !!waiting;
    button.addEventListener("click", () => click(channel.id, m, b.custom_id));
    row.append(button);
  }
  return row;
}

// A select menu: one tick box per option; each change sends the ticked values, as Discord
// sends a menu's values when it closes (a menu needs at least min_values of them).
function menusOf(channel, m) {
  const box = el("div", "menus");
  for (const menu of m.menus) {
    const key = m.id + "/" + menu.custom_id;
    const fieldset = el("fieldset", "menu");
    fieldset.disabled = !!menu.disabled;
    fieldset.dataset.customId = menu.custom_id;
    if (menu.placeholder) fieldset.append(el("legend", "", menu.placeholder));
    const ticked = picks.get(key) || [];
    for (const option of menu.options) {
      const label = el("label", "option");
      const input = el("input");
      input.type = menu.max_values > 1 ? "checkbox" : "radio";
      input.name = key;
      input.value = option.value;
      input.checked = ticked.includes(option.value);
      input.addEventListener("change", () => {
        const values = [...fieldset.querySelectorAll("input:checked")].map((i) => i.value);
        picks.set(key, values);
        if (values.length >= (menu.min_values ?? 1)) pick(channel.id, m, menu.custom_id, values);
      });
      label.append(input, document.createTextNode(" " + option.label));
      fieldset.append(label);
    }
    box.append(fieldset);
  }
  return box;
}

async function pick(channelId, m, customId, values) {
  const result = await post(`/local/channels/${channelId}/messages/${m.id}/click`,
    {custom_id: customId, values, username: username()});
  if (!result.ok) notice(result.data.message || `choice refused (${result.status})`);
}

// A form the bot opened (a modal): shown over the page until it is sent or closed.
function renderForm() {
  const form = (state.forms || [])[0];
  const box = $("form");
  if (!form) {
    formShown = "";
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  if (formShown === form.interaction_id) return;  // keep what is being typed
  formShown = form.interaction_id;
  const panel = el("form", "panel");
  panel.append(el("h2", "", form.title || "Form"));
  const fields = [];
  for (const input of form.inputs) {
    const label = el("label", "field", input.label || input.custom_id);
    const area = el(input.style === 2 ? "textarea" : "input");
    area.name = input.custom_id;
    if (input.max_length) area.maxLength = input.max_length;
    if (input.placeholder) area.placeholder = input.placeholder;
    area.required = input.required !== false;
    label.append(area);
    panel.append(label);
    fields.push(area);
  }
  const actions = el("div", "actions");
  const cancel = el("button", "cancel", "Cancel");
  cancel.type = "button";
  const submit = el("button", "submit", "Submit");
  submit.type = "submit";
  actions.append(cancel, submit);
  panel.append(actions);
  cancel.addEventListener("click", () => sendForm(form, {dismiss: true}));
  panel.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = {};
    for (const area of fields) values[area.name] = area.value;
    sendForm(form, {values, username: username()});
  });
  box.replaceChildren(panel);
  box.hidden = false;
  if (fields.length) fields[0].focus();
}

async function sendForm(form, body) {
  const result = await post(`/local/interactions/${form.interaction_id}/form`, body);
  if (!result.ok) notice(result.data.message || `form refused (${result.status})`);
}

async function click(channelId, m, customId) {
  pending.set(m.id, {buttons: JSON.stringify(m.buttons), until: Date.now() + 5000});
  lastRendered = "";
  render();
  setTimeout(() => { lastRendered = ""; render(); }, 5100);
  const result = await post(`/local/channels/${channelId}/messages/${m.id}/click`,
    {custom_id: customId, username: username()});
  if (!result.ok) {
    pending.delete(m.id);
    notice(result.data.message || `click refused (${result.status})`);
    lastRendered = "";
    render();
  }
}

function show(channelId) {
  current = channelId;
  lastRendered = "";
  render();
  $("content").focus();
}

async function startThread(channelId, messageId) {
  const result = await post(`/local/channels/${channelId}/messages/${messageId}/thread`, {username: username()});
  if (result.ok) { opening = result.data.thread_id; show(opening); }
  else notice(result.data.message || `no thread (${result.status})`);
}

async function archiveThread(channelId) {
  const result = await post(`/local/channels/${channelId}/archive`, {archived: true});
  if (!result.ok) notice(result.data.message || `not archived (${result.status})`);
}

function renderMessage(channel, m) {
  const box = el("div", m.ephemeral ? "msg ephemeral" : "msg");
  box.dataset.id = m.id;
  if (m.used && m.used.command) box.append(el("div", "used", `↳ ${m.used.user} used /${m.used.command}`));
  const head = el("div", "head");
  head.append(el("span", m.bot ? "who bot" : "who", m.author));
  if (m.timestamp) head.append(el("span", "time", new Date(m.timestamp).toLocaleTimeString()));
  if (m.edited && !m.loading) head.append(el("span", "edited", "(edited)"));
  box.append(head);
  const text = el("div", "text");
  if (m.loading) text.append(el("div", "loading", `${state.bot.username} is thinking…`));
  else if (m.content) text.append(markdown(m.content, m.names));
  box.append(text);
  for (const e of m.embeds) {
    const embed = el("div", "embed text");
    if (e.title) embed.append(e.url ? link(e.url, [el("span", "title", e.title)]) : el("div", "title", e.title));
    if (e.description) embed.append(markdown(e.description, m.names));
    for (const f of e.fields) {
      embed.append(el("div", "field-name", f.name));
      embed.append(markdown(f.value || "", m.names));
    }
    if (e.footer) embed.append(el("div", "subtext", e.footer));
    box.append(embed);
  }
  for (const a of m.attachments) {
    const href = safeUrl(a.url);
    if (!href) continue;
    const item = el("div", "attachment");
    const file = link(href, [document.createTextNode("📎 " + a.filename)]);
    file.className = "file";
    item.append(file);
    if (String(a.content_type || "").startsWith("image/") && href.startsWith(location.origin + "/")) {
      const img = el("img");
      img.src = href;
      img.alt = a.filename;
      item.append(img);
    }
    box.append(item);
  }
  if (m.menus && m.menus.length) box.append(menusOf(channel, m));
  if (m.buttons.length) box.append(buttonsOf(channel, m));
  if (m.reactions.length) {
    const row = el("div", "reactions");
    for (const r of m.reactions) row.append(el("span", "reaction", `${r.emoji} ${r.count}`));
    box.append(row);
  }
  if (m.ephemeral) box.append(el("div", "only-you", "👁 Only you can see this"));
  if (m.thread) {
    const open = el("a", "thread-link", "🧵 Open thread");
    open.addEventListener("click", () => show(m.thread));
    box.append(open);
  } else if (channel.type === 0 && !m.ephemeral && !m.loading) {
    const start = el("button", "start-thread", "🧵 Thread");
    start.title = "Create a thread from this message";
    start.addEventListener("click", () => startThread(channel.id, m.id));
    box.append(start);
  }
  return box;
}

// -- the page ------------------------------------------------------------------------------

function renderNav() {
  const nav = $("channels");
  const isThread = (c) => [10, 11, 12].includes(c.type);
  const top = state.channels.filter((c) => !isThread(c));
  const links = [];
  const add = (c, cls) => {
    const label = (isThread(c) ? "🧵 " : "# ") + c.name + (c.archived ? " (archived)" : "");
    const a = el("a", (cls + (c.id === current ? " active" : "")).trim(), label);
    a.dataset.id = c.id;
    a.addEventListener("click", () => { current = c.id; lastRendered = ""; render(); $("content").focus(); });
    links.push(a);
  };
  for (const c of top) {
    add(c, "");
    for (const t of state.channels.filter((x) => isThread(x) && x.parent_id === c.id)) add(t, "thread");
  }
  for (const t of state.channels.filter((x) => isThread(x) && !top.some((c) => c.id === x.parent_id))) add(t, "thread");
  nav.replaceChildren(...links);
}

function render() {
  if (!state) return;
  $("guild").textContent = state.guild.name;
  if (opening && state.channels.some((c) => c.id === opening)) { current = opening; opening = null; }
  if (!state.channels.some((c) => c.id === current) && (opening === null || current !== opening)) current = state.channels.length ? state.channels[0].id : null;
  renderNav();
  const channel = state.channels.find((c) => c.id === current);
  const thread = channel && [10, 11, 12].includes(channel.type);
  $("channel-name").textContent = channel ? (thread ? "🧵 " : "# ") + channel.name : "";
  const archive = $("archive-thread");
  archive.hidden = !thread || channel.archived;
  archive.onclick = thread ? () => archiveThread(channel.id) : null;
  $("typing").textContent = channel && channel.typing ? `${state.bot.username} is typing…` : "";
  renderForm();
  const key = current + JSON.stringify(channel ? channel.messages : []);
  if (key === lastRendered) return;
  lastRendered = key;
  const log = $("log");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
  log.replaceChildren(...(channel ? channel.messages.map((m) => renderMessage(channel, m)) : [el("p", "", "No channels yet.")]));
  if (atBottom) log.scrollTop = log.scrollHeight;
  updatePalette();
}

function banner(text) {
  $("banner").hidden = !text;
  $("banner").textContent = text || "";
}

function notice(text) {
  $("notice").hidden = !text;
  $("notice").textContent = text || "";
}

async function poll() {
  for (;;) {
    try {
      const response = await fetch(`/local/state?after=${encodeURIComponent(version)}`, {cache: "no-store"});
      if (!response.ok) {
        banner((await response.text()).trim() || `the local Discord answered ${response.status}`);
        await new Promise((done) => setTimeout(done, 3000));
        continue;
      }
      state = await response.json();
      version = state.version;
      banner("");
      render();
    } catch (err) {
      banner("The local Discord is not answering (is `vai run` still running?)");
      await new Promise((done) => setTimeout(done, 2000));
    }
  }
}

// -- the message box and its command list --------------------------------------------------

function typedName() {
  const m = /^\/(\S*)$/.exec($("content").value);
  return m ? m[1] : null;
}

function optionsText(cmd) {
  return cmd.options.map((o) => (o.required ? `${o.name}:` : `[${o.name}:]`)).join(" ");
}

function updatePalette() {
  const list = $("commands");
  const commands = state ? state.commands : [];
  const name = typedName();
  const value = $("content").value;
  const chosen = /^\/(\S+)\s/.exec(value);
  const typedCommand = chosen && commands.find((c) => c.name === chosen[1]);
  if (typedCommand && typedCommand.options.length && !value.includes("\n")) {
    palette = [];
    const hint = el("li", "options-hint");
    hint.textContent = typedCommand.options
      .map((o) => `${o.name}: ${o.description || ""}${o.required ? "" : " (optional)"}`)
      .join(" · ");
    list.replaceChildren(hint);
    list.hidden = false;
    return;
  }
  palette = name === null ? [] : commands.filter((c) => c.name.startsWith(name));
  if (!palette.length) {
    list.hidden = true;
    list.replaceChildren();
    return;
  }
  selected = Math.min(selected, palette.length - 1);
  list.replaceChildren(...palette.map((cmd, index) => {
    const item = el("li", index === selected ? "command selected" : "command");
    item.setAttribute("role", "option");
    item.dataset.name = cmd.name;
    item.append(el("span", "name", "/" + cmd.name));
    if (cmd.options.length) item.append(el("span", "args", optionsText(cmd)));
    item.append(el("span", "desc", cmd.description));
    item.addEventListener("mousedown", (event) => { event.preventDefault(); complete(index); });
    return item;
  }));
  list.hidden = false;
}

function complete(index) {
  const cmd = palette[index];
  if (!cmd) return;
  $("content").value = "/" + cmd.name + " ";
  selected = 0;
  resize();
  updatePalette();
  $("content").focus();
}

function resize() {
  const box = $("content");
  box.style.height = "auto";
  box.style.height = box.scrollHeight + "px";
}

async function send(event) {
  event.preventDefault();
  const box = $("content");
  const text = box.value;
  if (!current || !text.trim()) return;
  box.value = "";
  resize();
  notice("");
  updatePalette();
  const result = await post(`/local/channels/${current}/messages`, {content: text, username: username()});
  if (!result.ok) {
    if (!box.value) { box.value = text; resize(); }
    notice(result.data.message || `not sent (${result.status})`);
  }
}

function onKey(event) {
  const list = $("commands");
  if (!list.hidden && palette.length) {
    const exact = palette.some((c) => c.name === typedName());
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      selected = (selected + (event.key === "ArrowDown" ? 1 : palette.length - 1)) % palette.length;
      updatePalette();
      event.preventDefault();
      return;
    }
    if (event.key === "Tab" || (event.key === "Enter" && !event.shiftKey && !exact)) {
      complete(selected);
      event.preventDefault();
      return;
    }
    if (event.key === "Escape") {
      list.hidden = true;
      event.preventDefault();
      return;
    }
  }
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
}

function start() {
  $("composer").addEventListener("submit", send);
  $("content").addEventListener("keydown", onKey);
  $("content").addEventListener("input", () => { selected = 0; resize(); updatePalette(); });
  $("username").addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); $("content").focus(); }
  });
  poll();
}

start();
