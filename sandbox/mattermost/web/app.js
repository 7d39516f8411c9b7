// The sandbox's chat page: a small Mattermost client in plain JavaScript.
// Every chat call goes through the emulator's spec-checked /api/v4 routes and websocket with the
// chosen user's token; /_sandbox/session (who can I act as), /_sandbox/aws and /_sandbox/alarm are
// page helpers outside the Mattermost API.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const COLOURS = ["#3f6fd8", "#d2478e", "#2d9f6f", "#c2762b", "#7a57c7", "#1d8fa8", "#b8452f"];
const ATTACHMENT_COLOURS = { good: "#3db887", warning: "#ffbc1f", danger: "#d24b4e" };

const state = {
  team: null,
  people: [],          // seed users the page can act as: {username, id, token, display_name}
  usersById: {},       // every user the page has seen (bots included)
  me: null,            // username acted as
  channels: [],        // the current user's channels (GetChannelsForTeamForUser)
  channelId: null,
  posts: new Map(),    // the current channel's posts by id
  threadRoot: null,
  threadPosts: new Map(),
  ephemerals: {},      // username -> ephemeral posts received over that user's websocket
  dialogs: {},         // username -> the open_dialog payload waiting to be shown
  unread: {},          // username -> Set of channel ids
  currentByUser: {},   // username -> last channel id
  commands: [],
  sockets: {},
  greeted: new Set(),  // usernames whose websocket has said hello at least once
};

// ---------------------------------------------------------------------------------------- API
class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body, username = state.me) {
  const person = state.people.find((p) => p.username === username);
  const headers = { Authorization: `Bearer ${person.token}`, "X-Requested-With": "XMLHttpRequest" };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/api/v4${path}`, init);
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { message: text.slice(0, 200) }; // a 429 from the rate limiter is plain text
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

async function helper(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const parsed = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, parsed && { message: parsed.error || parsed.message });
  return parsed;
}

// ---------------------------------------------------------------------------------- websocket
function connect(person) {
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v4/websocket`);
  state.sockets[person.username] = socket;
  socket.onopen = () => {
    socket.send(JSON.stringify({ seq: 1, action: "authentication_challenge", data: { token: person.token } }));
  };
  socket.onmessage = (message) => {
    const frame = JSON.parse(message.data);
    if (frame.event === "hello") {
      updateConnection();
      // Events sent while this socket was down are gone: read back what was missed, as
      // Mattermost's own client does after a reconnect.
      if (state.greeted.has(person.username)) catchUp(person.username).catch(showFatal);
      state.greeted.add(person.username);
    }
    if (frame.event) onEvent(person.username, frame).catch(showFatal);
  };
  socket.onclose = () => {
    updateConnection();
    setTimeout(() => connect(person), 1000); // the server restarted or dropped us: come back
  };
}

function updateConnection() {
  const open = Object.values(state.sockets).filter((s) => s.readyState === WebSocket.OPEN).length;
  const element = $("#connection");
  element.textContent = open === state.people.length ? "live: websocket connected" : "reconnecting…";
  element.classList.toggle("ok", open === state.people.length);
}

async function catchUp(username) {
  if (username !== state.me) return; // another person's view is read afresh when the page switches to them
  const channelId = state.channelId;
  const threadRoot = state.threadRoot;
  await loadChannels();
  if (channelId && state.channelId === channelId) {
    const list = await api("GET", `/channels/${channelId}/posts?per_page=200`);
    if (state.channelId !== channelId || state.me !== username) return;
    state.posts = mergePosts(list, state.posts);
    await learnUsers([...state.posts.values()].map((p) => p.user_id));
    renderPosts(null, false);
  }
  if (threadRoot && state.threadRoot === threadRoot) {
    const thread = await api("GET", `/posts/${threadRoot}/thread`);
    if (state.threadRoot !== threadRoot) return;
    state.threadPosts = mergePosts(thread, state.threadPosts);
    renderThread();
  }
}

async function onEvent(username, frame) {
  const data = frame.data || {};
  const mine = username === state.me;
  if (frame.event === "posted" || frame.event === "post_edited") {
    const post = JSON.parse(data.post);
    // Keep the post before anything that waits, so a slow or failed user lookup never loses it.
    const here = mine && post.channel_id === state.channelId;
    const known = here && state.posts.has(post.id);
    if (here) state.posts.set(post.id, post);
    const inThread = mine && state.threadRoot && (post.id === state.threadRoot || post.root_id === state.threadRoot);
    if (inThread) state.threadPosts.set(post.id, post);
    await learnUsers([post.user_id]).catch(() => {}); // an unknown author shows as "system" until read
    if (here) {
      renderPosts(post.id, !known); // new and edited posts flash once where they are
    } else if (frame.event === "posted") {
      markUnread(username, post.channel_id);
    }
    if (inThread) renderThread();
    if (mine && !state.channels.some((c) => c.id === post.channel_id)) await loadChannels();
    scheduleAwsRefresh();
  } else if (frame.event === "post_deleted") {
    // Mattermost removes a deleted post from every client (e.g. the loser of two racing cards).
    const post = JSON.parse(data.post);
    if (mine && state.posts.delete(post.id)) renderPosts();
    if (mine && state.threadRoot && state.threadPosts.delete(post.id)) renderThread();
  } else if (frame.event === "ephemeral_message") {
    const post = JSON.parse(data.post);
    (state.ephemerals[username] ||= []).push(post);
    if (mine) {
      if (post.channel_id === state.channelId) renderPosts(post.id, true);
      if (state.threadRoot && post.root_id === state.threadRoot) renderThread();
    } else {
      markUnread(username, post.channel_id);
    }
  } else if (frame.event === "open_dialog") {
    state.dialogs[username] = { ...JSON.parse(data.dialog), channel_id: state.currentByUser[username] };
    if (mine) openDialog();
    else renderSwitcher();
  }
}

function markUnread(username, channelId) {
  (state.unread[username] ||= new Set()).add(channelId);
  renderSwitcher();
  if (username === state.me) renderChannels();
}

async function learnUsers(ids) {
  const missing = [...new Set(ids)].filter((id) => id && !state.usersById[id]);
  if (!missing.length) return;
  for (const user of await api("POST", "/users/ids", missing)) state.usersById[user.id] = user;
}

// ---------------------------------------------------------------------------------- start-up
async function start() {
  const session = await helper("GET", "/_sandbox/session");
  state.people = session.users.filter((u) => !u.is_bot && u.token);
  state.bots = session.users.filter((u) => u.is_bot);
  state.me = new URLSearchParams(location.search).get("as") || state.people[0].username;
  state.team = await api("GET", `/teams/name/${encodeURIComponent(session.team_name)}`);
  $("#team-name").textContent = state.team.display_name;
  $("#team-icon").textContent = state.team.display_name.slice(0, 1).toUpperCase();
  for (const person of state.people) connect(person);
  bindComposer($("#composer"), $("#message-box"), $("#composer-error"), () => "");
  bindComposer($("#thread-composer"), $("#thread-box"), $("#thread-error"), () => state.threadRoot);
  $("#thread-close").onclick = closeThread;
  bindDialog();
  await setupAws();
  await switchUser(state.me);
}

async function switchUser(username) {
  state.me = username;
  const url = new URL(location.href);
  url.searchParams.set("as", username);
  history.replaceState(null, "", url);
  closeThread();
  renderSwitcher();
  const me = await api("GET", "/users/me");
  state.usersById[me.id] = me;
  const commands = await api("GET", `/teams/${state.team.id}/commands/autocomplete`);
  if (state.me !== username) return; // switched again meanwhile
  state.commands = commands;
  await loadChannels();
  if (state.me !== username) return;
  const remembered = state.currentByUser[username];
  const first = state.channels.find((c) => c.name === "jit-approvals") || state.channels[0];
  await openChannel(state.channels.some((c) => c.id === remembered) ? remembered : first.id);
  if (state.dialogs[username]) openDialog();
  else closeDialogView();
  $("#message-box").focus();
}

async function loadChannels() {
  state.channels = await api("GET", `/users/me/teams/${state.team.id}/channels`);
  const others = state.channels.filter((c) => c.type === "D").map((c) => otherMember(c));
  await learnUsers([...others, ...state.bots.map((b) => b.id)]);
  renderChannels();
}

function otherMember(channel) {
  const me = currentPerson().id;
  const ids = channel.name.split("__");
  return ids.find((id) => id !== me) || me;
}

const currentPerson = () => state.people.find((p) => p.username === state.me);

function channelLabel(channel) {
  if (channel.type === "D") {
    const other = state.usersById[otherMember(channel)];
    return other ? other.username : "direct message";
  }
  return channel.display_name || channel.name;
}

async function openChannel(channelId) {
  state.channelId = channelId;
  state.currentByUser[state.me] = channelId;
  state.unread[state.me]?.delete(channelId);
  const channel = state.channels.find((c) => c.id === channelId);
  $("#channel-title").textContent = channel.type === "D" ? `@${channelLabel(channel)}` : channelLabel(channel);
  $("#channel-purpose").textContent =
    channel.type === "D" ? "Direct messages" : channel.name === "oncall" ? "Alarms and on-call" : `~${channel.name}`;
  $("#message-box").placeholder = channel.type === "D"
    ? `Write to @${channelLabel(channel)}, or type / for commands`
    : `Write to ~${channel.name}, or type / for commands`;
  state.posts = new Map(); // posts arriving over the websocket while the list loads land here
  const list = await api("GET", `/channels/${channelId}/posts?per_page=200`);
  if (state.channelId !== channelId) return; // switched again meanwhile
  state.posts = mergePosts(list, state.posts);
  await learnUsers([...state.posts.values()].map((p) => p.user_id));
  renderChannels();
  renderSwitcher();
  renderPosts(null, true);
}

// A fetched post list, plus what the websocket delivered while it loaded (the newer copy wins).
function mergePosts(list, live) {
  const merged = new Map(list.order.map((id) => [id, list.posts[id]]));
  for (const [id, post] of live) {
    const fetched = merged.get(id);
    if (!fetched || post.update_at >= fetched.update_at) merged.set(id, post);
  }
  return merged;
}

async function openDirect(bot) {
  const existing = state.channels.find((c) => c.type === "D" && otherMember(c) === bot.id);
  if (existing) return openChannel(existing.id);
  const channel = await api("POST", "/channels/direct", [currentPerson().id, bot.id]);
  await loadChannels();
  return openChannel(channel.id);
}

// ---------------------------------------------------------------------------------- rendering
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "html") node.innerHTML = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function colourFor(name) {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return COLOURS[hash % COLOURS.length];
}

function avatar(name, small = false) {
  return el("div", { class: `avatar${small ? " small" : ""}`, style: `background:${colourFor(name)}`, "aria-hidden": "true" },
    name.slice(0, 1).toUpperCase());
}

function renderSwitcher() {
  const box = $("#user-switcher");
  box.replaceChildren(...state.people.map((person) => {
    const pending = person.username !== state.me && (state.unread[person.username]?.size || state.dialogs[person.username]);
    return el("button", {
      class: "user-chip", type: "button", role: "radio", "aria-checked": String(person.username === state.me),
      "data-user": person.username, title: `Act as ${person.display_name}`,
      onclick: () => person.username !== state.me && switchUser(person.username).catch(showFatal),
    }, avatar(person.username, true), person.username, pending ? el("span", { class: "dot", title: "new activity" }) : null);
  }));
}

function renderChannels() {
  const unread = state.unread[state.me] || new Set();
  const item = (label, glyph, active, isUnread, onclick, channelName) => el("li", {},
    el("button", { type: "button", class: [active && "active", isUnread && "unread"].filter(Boolean).join(" "),
      "data-channel": channelName, onclick }, el("span", { class: "glyph" }, glyph), label));
  const open = state.channels.filter((c) => c.type !== "D").sort((a, b) => channelLabel(a).localeCompare(channelLabel(b)));
  $("#channel-list").replaceChildren(...open.map((c) =>
    item(channelLabel(c), "#", c.id === state.channelId, unread.has(c.id), () => openChannel(c.id).catch(showFatal), c.name)));
  const direct = state.channels.filter((c) => c.type === "D");
  const rows = direct.map((c) =>
    item(channelLabel(c), "@", c.id === state.channelId, unread.has(c.id), () => openChannel(c.id).catch(showFatal), `@${channelLabel(c)}`));
  for (const bot of state.bots) {
    if (!direct.some((c) => otherMember(c) === bot.id)) {
      rows.push(item(bot.username, "@", false, false, () => openDirect(bot).catch(showFatal), `@${bot.username}`));
    }
  }
  $("#dm-list").replaceChildren(...rows);
}

function visiblePosts() {
  const roots = [...state.posts.values()].filter((p) => !p.root_id && !p.delete_at);
  const ephemerals = (state.ephemerals[state.me] || []).filter((p) => p.channel_id === state.channelId);
  return [...roots, ...ephemerals].sort((a, b) => a.create_at - b.create_at);
}

function replyCount(rootId) {
  return [...state.posts.values()].filter((p) => p.root_id === rootId && !p.delete_at).length;
}

function renderPosts(highlightId, scroll) {
  const box = $("#posts");
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 120;
  const posts = visiblePosts();
  if (!posts.length) {
    box.replaceChildren(el("div", { class: "empty" }, "No messages yet. Type / to see the commands."));
    return;
  }
  box.replaceChildren(...posts.map((p) => renderPost(p, { inThread: false, highlight: p.id === highlightId })));
  if (scroll || nearBottom) box.scrollTop = box.scrollHeight;
}

function renderPost(post, { inThread, highlight, root }) {
  const ephemeral = isEphemeral(post);
  const author = state.usersById[post.user_id];
  const name = author ? author.username : "system";
  const classes = ["post", ephemeral && "ephemeral", highlight && "highlight", root && "root"].filter(Boolean).join(" ");
  const node = el("article", { class: classes, "data-post-id": post.id, "data-ephemeral": ephemeral ? "true" : null },
    avatar(name),
    el("div", { class: "post-body" },
      el("div", { class: "post-header" },
        el("span", { class: "author" }, name),
        author && author.is_bot ? el("span", { class: "bot-tag" }, "BOT") : null,
        el("time", { datetime: new Date(post.create_at).toISOString(), title: new Date(post.create_at).toString() },
          formatTime(post.create_at)),
      ),
      post.message ? el("div", { class: "message md", html: markdown(post.message) }) : null,
      ...renderAttachments(post, ephemeral),
      ephemeral ? el("div", { class: "only-you" }, "(Only visible to you)") : null,
      renderFooter(post, !inThread && !ephemeral),
    ),
  );
  if (!ephemeral && !inThread) {
    node.append(el("button", { class: "reply-action", type: "button", onclick: () => openThread(post.id).catch(showFatal) }, "Reply"));
  }
  return node;
}

function isEphemeral(post) {
  return (state.ephemerals[state.me] || []).some((p) => p.id === post.id);
}

function renderFooter(post, withReplies) {
  const count = withReplies ? replyCount(post.id) : 0;
  if (!count && !post.edit_at) return null;
  return el("div", { class: "post-footer" },
    count ? el("button", { class: "replies", type: "button", onclick: () => openThread(post.id).catch(showFatal) },
      `${count} ${count === 1 ? "reply" : "replies"}`) : null,
    post.edit_at ? el("span", { class: "edited", title: `edited at ${formatTime(post.edit_at)}` }, "Edited") : null);
}

function renderAttachments(post, ephemeral) {
  const attachments = (post.props && Array.isArray(post.props.attachments)) ? post.props.attachments : [];
  return attachments.map((a) => {
    const colour = ATTACHMENT_COLOURS[a.color] || (/^#[0-9a-f]{3,8}$/i.test(a.color || "") ? a.color : "#c4c9d1");
    const title = a.title
      ? el("div", { class: "title" }, a.title_link && safeUrl(a.title_link)
        ? el("a", { href: a.title_link, target: "_blank", rel: "noopener noreferrer" }, a.title) : a.title)
      : null;
    const fields = (a.fields || []).filter((f) => f && (f.title || f.value));
    const actions = (a.actions || []).filter((x) => x && x.name);
    const footer = [a.footer, a.ts ? formatTime(Number(a.ts) * 1000) : null].filter(Boolean).join(" · ");
    return el("div", { class: "attachment" },
      el("div", { class: "bar", style: `background:${colour}` }),
      el("div", { class: "content" },
        a.pretext ? el("div", { class: "pretext md", html: markdown(a.pretext) }) : null,
        a.author_name ? el("div", { class: "att-author" }, a.author_name) : null,
        title,
        a.text ? el("div", { class: "md", html: markdown(a.text) }) : null,
        fields.length ? el("div", { class: "fields" }, fields.map((f) =>
          el("div", { class: `field${f.short ? " short" : ""}` },
            el("div", { class: "field-title" }, f.title || ""),
            el("div", { class: "md", html: markdown(String(f.value ?? "")) })))) : null,
        actions.length ? el("div", { class: "actions" }, actions.map((x) => renderAction(post, x, ephemeral))) : null,
        footer ? el("div", { class: "att-footer" }, footer) : null,
      ),
    );
  });
}

function renderAction(post, action, ephemeral) {
  if (action.type === "select") {
    const select = el("select", { "aria-label": action.name, disabled: ephemeral },
      el("option", { value: "" }, action.name),
      (action.options || []).map((o) => el("option", { value: o.value }, o.text)));
    select.onchange = () => select.value && clickAction(post, action, select, select.value);
    return select;
  }
  const style = ["primary", "danger", "good", "success"].includes(action.style) ? action.style : "";
  const button = el("button", { type: "button", class: `btn ${style}`.trim(), disabled: ephemeral,
    "data-action-id": action.id }, action.name);
  button.onclick = () => clickAction(post, action, button, "");
  return button;
}

async function clickAction(post, action, control, selected) {
  control.disabled = true;
  try {
    await api("POST", `/posts/${post.id}/actions/${action.id}`, selected ? { selected_option: selected } : undefined);
  } catch (error) {
    toast(`${action.name}: ${error.message}`);
  } finally {
    control.disabled = false;
  }
}

function formatTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

// ------------------------------------------------------------------------------------- threads
async function openThread(rootId) {
  state.threadRoot = rootId;
  state.threadPosts = new Map();
  const thread = await api("GET", `/posts/${rootId}/thread`);
  if (state.threadRoot !== rootId) return;
  state.threadPosts = mergePosts(thread, state.threadPosts);
  await learnUsers(thread.order.map((id) => thread.posts[id].user_id));
  const channel = state.channels.find((c) => c.id === state.channelId);
  $("#thread-channel").textContent = channel ? channelLabel(channel) : "";
  $("#thread").hidden = false;
  $("#aws").hidden = true;
  $("#app").classList.remove("rhs-empty");
  renderThread();
  $("#thread-box").focus();
}

function renderThread() {
  if (!state.threadRoot) return;
  const posts = [...state.threadPosts.values()];
  const ephemerals = (state.ephemerals[state.me] || []).filter((p) => p.root_id === state.threadRoot);
  const all = [...posts, ...ephemerals].sort((a, b) => a.create_at - b.create_at);
  const box = $("#thread-posts");
  box.replaceChildren(...all.map((p) => renderPost(p, { inThread: true, root: p.id === state.threadRoot })));
  box.scrollTop = box.scrollHeight;
}

function closeThread() {
  state.threadRoot = null;
  $("#thread").hidden = true;
  $("#aws").hidden = !state.awsAvailable;
  $("#app").classList.toggle("rhs-empty", !state.awsAvailable); // the emulator alone has no AWS side
}

// ------------------------------------------------------------------------------------ composer
function bindComposer(form, box, errorBox, rootId) {
  const suggestions = form.querySelector(".autocomplete");
  let selected = 0;
  const matches = () => {
    const text = box.value;
    if (!text.startsWith("/") || !suggestions) return [];
    const [word, ...rest] = text.slice(1).split(" ");
    const typedArgs = rest.length > 0;
    return state.commands
      .filter((c) => (typedArgs ? c.trigger === word.toLowerCase() : c.trigger.startsWith(word.toLowerCase())))
      .map((c) => ({ command: c, typedArgs }));
  };
  const renderSuggestions = () => {
    if (!suggestions) return;
    const found = matches();
    suggestions.hidden = !found.length;
    if (!found.length) return;
    selected = Math.min(selected, found.length - 1);
    suggestions.replaceChildren(el("div", { class: "head" }, "Commands"), ...found.map(({ command }, index) =>
      el("div", { class: `suggestion${index === selected ? " selected" : ""}`, "data-trigger": command.trigger,
        onmousedown: (event) => { event.preventDefault(); complete(command); } },
        el("span", { class: "trigger" }, `/${command.trigger}`),
        el("span", { class: "hint" }, command.auto_complete_hint || ""),
        el("span", { class: "desc" }, command.auto_complete_desc || command.description || ""))));
  };
  const complete = (command) => {
    if (!box.value.startsWith(`/${command.trigger} `)) box.value = `/${command.trigger} `;
    box.focus();
    renderSuggestions();
  };
  box.addEventListener("input", () => {
    errorBox.textContent = "";
    box.style.height = "auto";
    box.style.height = `${Math.min(box.scrollHeight, 160)}px`;
    renderSuggestions();
  });
  box.addEventListener("blur", () => { if (suggestions) suggestions.hidden = true; });
  box.addEventListener("focus", renderSuggestions);
  box.addEventListener("keydown", (event) => {
    const found = matches();
    if (suggestions && !suggestions.hidden && found.length && !found[0].typedArgs) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        selected = (selected + (event.key === "ArrowDown" ? 1 : found.length - 1)) % found.length;
        renderSuggestions();
        event.preventDefault();
        return;
      }
      if (event.key === "Tab") {
        complete(found[selected].command);
        event.preventDefault();
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = box.value.trim();
    if (!text) return;
    errorBox.textContent = "";
    const root = rootId() || "";
    try {
      if (text.startsWith("/")) {
        await api("POST", "/commands/execute", { channel_id: state.channelId, command: text, root_id: root });
      } else {
        await api("POST", "/posts", { channel_id: state.channelId, message: text, root_id: root });
      }
      box.value = "";
      box.style.height = "auto";
      renderSuggestions();
    } catch (error) {
      errorBox.textContent = error.message;
    }
  });
}

// -------------------------------------------------------------------------------------- dialog
function bindDialog() {
  $("#dialog").addEventListener("submit", (event) => { event.preventDefault(); submitDialog(false).catch(showFatal); });
  $("#dialog-cancel").onclick = () => submitDialog(true).catch(showFatal);
  $("#dialog-x").onclick = () => submitDialog(true).catch(showFatal);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("#dialog-backdrop").hidden) submitDialog(true).catch(showFatal);
  });
}

function openDialog() {
  const opened = state.dialogs[state.me];
  if (!opened) return;
  const dialog = opened.dialog || {};
  $("#dialog-title").textContent = dialog.title || "";
  $("#dialog-intro").innerHTML = dialog.introduction_text ? markdown(dialog.introduction_text) : "";
  $("#dialog-submit").textContent = dialog.submit_label || "Submit";
  $("#dialog-error").hidden = true;
  $("#dialog-fields").replaceChildren(...(dialog.elements || []).map(renderDialogField));
  $("#dialog-backdrop").hidden = false;
  const first = $("#dialog-fields input, #dialog-fields textarea, #dialog-fields select");
  if (first) first.focus();
}

function renderDialogField(element) {
  const id = `field-${element.name}`;
  const value = element.default ?? "";
  let control;
  if (element.type === "textarea") {
    control = el("textarea", { id, name: element.name, placeholder: element.placeholder, maxlength: element.max_length || null });
    control.value = value;
  } else if (element.type === "radio") {
    control = el("div", { id, class: "radios", role: "radiogroup" }, (element.options || []).map((o) =>
      el("label", {}, el("input", { type: "radio", name: element.name, value: o.value,
        checked: String(o.value) === String(value) }), ` ${o.text}`)));
  } else if (element.type === "select") {
    control = el("select", { id, name: element.name },
      el("option", { value: "" }, element.placeholder || "Select an option"),
      (element.options || []).map((o) => el("option", { value: o.value, selected: String(o.value) === String(value) }, o.text)));
  } else if (element.type === "bool") {
    control = el("input", { id, name: element.name, type: "checkbox", checked: value === true || value === "true" });
  } else {
    const subtype = ["email", "number", "password", "tel", "url"].includes(element.subtype) ? element.subtype : "text";
    control = el("input", { id, name: element.name, type: subtype, placeholder: element.placeholder,
      maxlength: element.max_length || null });
    control.value = value;
  }
  return el("div", { class: "dialog-field", "data-field": element.name },
    el("label", { for: id }, element.display_name, element.optional ? el("span", { class: "optional" }, " (optional)") : null),
    control,
    element.help_text ? el("div", { class: "help" }, element.help_text) : null,
    el("div", { class: "field-error", role: "alert" }));
}

async function submitDialog(cancelled) {
  const opened = state.dialogs[state.me];
  if (!opened) return closeDialogView();
  const dialog = opened.dialog || {};
  if (cancelled) {
    if (dialog.notify_on_cancel) {
      await api("POST", "/actions/dialogs/submit", { url: opened.url, callback_id: dialog.callback_id || "",
        state: dialog.state || "", channel_id: opened.channel_id, submission: {}, cancelled: true });
    }
    delete state.dialogs[state.me];
    return closeDialogView();
  }
  const submission = {};
  for (const element of dialog.elements || []) {
    const control = document.getElementById(`field-${element.name}`);
    if (element.type === "bool") submission[element.name] = control.checked;
    else if (element.type === "radio") submission[element.name] = control.querySelector("input:checked")?.value ?? "";
    else submission[element.name] = control.value;
  }
  $("#dialog-submit").disabled = true;
  let reply;
  try {
    reply = await api("POST", "/actions/dialogs/submit", { url: opened.url, callback_id: dialog.callback_id || "",
      state: dialog.state || "", channel_id: opened.channel_id, submission, cancelled: false });
  } catch (error) {
    reply = { error: error.message };
  } finally {
    $("#dialog-submit").disabled = false;
  }
  const errors = (reply && reply.errors) || {};
  const general = reply && reply.error;
  for (const field of document.querySelectorAll("#dialog-fields .dialog-field")) {
    const message = errors[field.dataset.field] || "";
    field.classList.toggle("invalid", Boolean(message));
    field.querySelector(".field-error").textContent = message;
  }
  $("#dialog-error").hidden = !general;
  $("#dialog-error").textContent = general || "";
  if (!general && !Object.keys(errors).length) {
    delete state.dialogs[state.me];
    closeDialogView();
  }
}

function closeDialogView() {
  $("#dialog-backdrop").hidden = true;
  renderSwitcher();
}

// ------------------------------------------------------------------------------------ AWS side
let awsTimer = null;

async function setupAws() {
  try {
    await refreshAws();
    state.awsAvailable = true;
  } catch (error) {
    state.awsAvailable = false; // the emulator alone (python -m sandbox.mattermost): no AWS side
    return;
  }
  $("#aws").hidden = false;
  $("#alarm-form").addEventListener("submit", (event) => { event.preventDefault(); fireAlarm().catch(showFatal); });
  setInterval(() => refreshAws().catch(() => {}), 3000);
}

function scheduleAwsRefresh() {
  if (!state.awsAvailable) return;
  clearTimeout(awsTimer);
  awsTimer = setTimeout(() => refreshAws().catch(() => {}), 300);
}

// One read in flight at a time, and one more queued if asked meanwhile: an older, slower answer
// never overwrites a newer one.
let awsReading = null;
let awsAgain = false;

async function refreshAws() {
  if (awsReading) {
    awsAgain = true;
    return awsReading;
  }
  awsReading = readAws();
  try {
    await awsReading;
  } finally {
    awsReading = null;
  }
  if (awsAgain) {
    awsAgain = false;
    await refreshAws();
  }
}

async function readAws() {
  const snapshot = await helper("GET", "/_sandbox/aws");
  const now = Date.now();
  const rows = snapshot.access.map((row) => el("tr", {},
    el("td", {}, row.user), el("td", {}, row.permission_set), el("td", {}, row.account),
    row.standing
      ? el("td", { class: "standing", title: "held outside JIT" }, "standing")
      : el("td", { class: "jit", title: row.until }, formatTime(Date.parse(row.until)),
        el("span", { class: "left" }, minutesLeft(Date.parse(row.until) - now)))));
  $("#access-table tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 4, class: "muted" }, "nobody"))]));
  const select = $("#alarm-name");
  if (!select.options.length) {
    select.replaceChildren(...snapshot.alarms.map((a) => el("option", { value: a.name }, a.name)));
  }
  $("#alarm-states").replaceChildren(...snapshot.alarms.map((a) =>
    el("li", { title: `${a.name}: ${a.state}`, "data-alarm": a.name, "data-state": a.state },
      el("span", { class: `state ${a.state}` }), a.name.replace(/^JIT-/, ""))));
  $("#event-list").replaceChildren(...(snapshot.events.length ? snapshot.events.map((e) =>
    el("li", {},
      el("time", { datetime: e.at }, formatTime(Date.parse(e.at))),
      el("span", { class: "etype" }, `${e.type}${e.actor ? ` · ${e.actor}` : ""}`),
      el("span", { class: "esum" }, e.summary || e.request_id))) : [el("li", { class: "muted none" }, "No events yet: request access to see its lifecycle here.")]));
}

function minutesLeft(ms) {
  if (ms <= 0) return "ending";
  const minutes = Math.round(ms / 60000);
  return minutes >= 60 ? `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")} left` : `${minutes}m left`;
}

async function fireAlarm() {
  const name = $("#alarm-name").value;
  const alarmState = $("#alarm-state").value;
  const raw = $("#alarm-value").value.trim();
  const body = { name, state: alarmState };
  if (raw) body.value = Number(raw);
  const result = $("#alarm-result");
  $("#alarm-fire").disabled = true;
  try {
    const reply = await helper("POST", "/_sandbox/alarm", body);
    result.textContent = `${reply.alarm} → ${reply.state}: ${reply.reason}`;
  } catch (error) {
    result.textContent = `Not fired: ${error.message}`;
  } finally {
    $("#alarm-fire").disabled = false;
  }
  scheduleAwsRefresh();
}

// ------------------------------------------------------------------------------------ markdown
// The subset Mattermost posts here use: paragraphs, **bold**, _italic_, ~~strike~~, `code`,
// fenced code, links, bare URLs, lists, quotes, headings and tables. Input is escaped first.
function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function safeUrl(url) {
  return /^(https?:|mailto:)/i.test(url.trim());
}

function inline(text) {
  return text.split(/(`[^`]+`)/g).map((part) => {
    if (/^`[^`]+`$/.test(part)) return `<code>${escapeHtml(part.slice(1, -1))}</code>`;
    const links = [];
    let out = part.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_, label, url) => {
      links.push(safeUrl(url) ? `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${inlineText(label)}</a>` : inlineText(label));
      return `\u0000${links.length - 1}\u0000`;
    });
    out = out.replace(/<(https?:\/\/[^>\s]+)>/g, (_, url) => {
      links.push(`<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${escapeHtml(url)}</a>`);
      return `\u0000${links.length - 1}\u0000`;
    });
    out = out.replace(/\bhttps?:\/\/[^\s<>()]+[^\s<>().,;:!?'"]/g, (url) => {
      links.push(`<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${escapeHtml(url)}</a>`);
      return `\u0000${links.length - 1}\u0000`;
    });
    out = inlineText(out);
    return out.replace(/\u0000(\d+)\u0000/g, (_, i) => links[Number(i)]);
  }).join("");
}

// Shortcodes the bot's posts use, plus a few common ones; unknown ones stay as typed.
const EMOJI = {
  red_circle: "🔴", white_check_mark: "✅", heavy_check_mark: "✔️", warning: "⚠️", rotating_light: "🚨",
  mute: "🔇", bell: "🔔", eyes: "👀", repeat: "🔁", large_orange_diamond: "🔶", large_blue_circle: "🔵",
  grey_question: "❔", x: "❌", lock: "🔒", unlock: "🔓", hourglass: "⌛", key: "🔑", tada: "🎉",
  information_source: "ℹ️", no_entry: "⛔", stopwatch: "⏱️", thumbsup: "👍", "+1": "👍",
};

function inlineText(text) {
  return escapeHtml(text)
    .replace(/:([a-z0-9_+-]+):/g, (whole, name) => (EMOJI[name] ? `<span class="emoji" title=":${name}:">${EMOJI[name]}</span>` : whole))
    .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
    .replace(/__(.+?)__/g, "<strong>$1</strong>")
    .replace(/(^|[^\w*])\*(?!\s)(.+?)\*(?!\w)/g, "$1<em>$2</em>")
    .replace(/(^|[^\w])_(?!\s)(.+?)_(?!\w)/g, "$1<em>$2</em>")
    .replace(/~~(.+?)~~/g, "<del>$1</del>")
    .replace(/(^|[\s(])@([a-z0-9.\-_]+)/gi, '$1<span class="mention">@$2</span>')
    .replace(/(^|[\s(])~([a-z0-9\-_]+)/gi, '$1<span class="mention">~$2</span>');
}

function markdown(source) {
  const lines = String(source).replace(/\r\n?/g, "\n").split("\n");
  const html = [];
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) html.push(`<p>${paragraph.map(inline).join("<br>")}</p>`);
    paragraph = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = line.match(/^\s*```(\w*)\s*$/);
    if (fence) {
      flush();
      const code = [];
      while (++i < lines.length && !/^\s*```\s*$/.test(lines[i])) code.push(lines[i]);
      html.push(`<pre><code>${escapeHtml(code.join("\n"))}</code></pre>`);
      continue;
    }
    const list = line.match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
    if (list) {
      flush();
      const ordered = /\d/.test(list[1]);
      const items = [];
      while (i < lines.length) {
        const m = lines[i].match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
        if (!m || /\d/.test(m[1]) !== ordered) break;
        const task = m[2].match(/^\[([ xX])\]\s+(.*)$/);
        items.push(task
          ? `<li class="task"><input type="checkbox" disabled${task[1] === " " ? "" : " checked"}> ${inline(task[2])}</li>`
          : `<li>${inline(m[2])}</li>`);
        i++;
      }
      i--;
      html.push(ordered ? `<ol>${items.join("")}</ol>` : `<ul>${items.join("")}</ul>`);
      continue;
    }
    if (/^\s*\|.*\|\s*$/.test(line) && i + 1 < lines.length && /^\s*\|?\s*:?-{3,}/.test(lines[i + 1])) {
      flush();
      const cells = (row) => row.trim().replace(/^\||\|$/g, "").split("|").map((c) => inline(c.trim()));
      const head = cells(line);
      i += 2;
      const body = [];
      while (i < lines.length && /^\s*\|.*\|\s*$/.test(lines[i])) body.push(cells(lines[i++]));
      i--;
      html.push(`<table><thead><tr>${head.map((c) => `<th>${c}</th>`).join("")}</tr></thead><tbody>${
        body.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")}</tbody></table>`);
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      flush();
      const level = Math.min(heading[1].length + 1, 4);
      html.push(`<h${level}>${inline(heading[2])}</h${level}>`);
      continue;
    }
    const quote = line.match(/^>\s?(.*)$/);
    if (quote) {
      flush();
      const quoted = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) quoted.push(lines[i++].replace(/^>\s?/, ""));
      i--;
      html.push(`<blockquote>${markdown(quoted.join("\n"))}</blockquote>`);
      continue;
    }
    if (!line.trim()) flush();
    else paragraph.push(line);
  }
  flush();
  return html.join("");
}

// ------------------------------------------------------------------------------------- errors
function toast(message) {
  const box = $("#composer-error");
  box.textContent = message;
}

function showFatal(error) {
  console.error(error);
  toast(error && error.message ? error.message : String(error));
}

start().catch(showFatal);
