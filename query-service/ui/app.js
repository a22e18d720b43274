// The itsm web UI: agent workspace, self-service portal and CMDB pages (issue 7).
//
// A thin client of the command and query APIs on this origin. It decides nothing itself: a
// ticket offers the commands its view lists in `actions`, a request form asks what the service
// catalog defines, and a refusal shows the API's problem+json. Every piece of user content is
// put into the page as text (`h` appends strings as text nodes), never as markup.

import { t, lang, setLang, label, openLabel, formatTime, formatMinutes, localized, missingKeys } from './i18n.js';

const ASSET_READERS = ['agent', 'supervisor', 'asset_manager', 'auditor', 'admin'];
const AGENTS = ['agent', 'supervisor', 'admin'];
const STATUS_FILTERS = ['open', 'new', 'assigned', 'in_progress', 'pending', 'resolved', 'closed', 'all'];
const SORTS = ['priority', 'due', 'age', '-age', 'updated'];
const SLA_FILTERS = ['', 'warning', 'breached', 'running', 'paused'];
const LEVELS = ['low', 'medium', 'high', 'critical'];
const PENDING_REASONS = ['waiting_for_requester', 'waiting_for_third_party', 'waiting_for_change'];
const LINK_TYPES = ['relates_to', 'duplicate_of', 'parent_of', 'child_of', 'caused_by'];
const RESOLUTION_CODES = ['solved', 'workaround', 'no_fault_found', 'duplicate', 'not_reproducible'];
const LIFECYCLES = ['planned', 'ordered', 'in_stock', 'deployed', 'in_repair', 'retired', 'disposed'];
const CSRF_KEY = 'itsm.csrf';
const SHORTCUTS_KEY = 'itsm.shortcuts';

const session = { me: null };

// ---------------------------------------------------------------------------------------------
// DOM

/** Children as nodes: arrays flattened, null/undefined/false left out, the rest as text. */
function nodesOf(children) {
  return children
    .flat(Infinity)
    .filter((child) => child !== null && child !== undefined && child !== false)
    .map((child) => (child instanceof Node ? child : document.createTextNode(String(child))));
}

/** An element with attributes (`on…` are listeners) and children (strings become text). */
function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else if (key === 'class') element.className = value;
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else if (key === 'value') element.value = value;
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  element.append(...nodesOf(children));
  return element;
}

/** Replaces the children of `element` (arrays are flattened, null and false left out). */
function put(element, ...children) {
  element.replaceChildren(...nodesOf(children));
}

let uniqueId = 0;
const nextId = (prefix) => `${prefix}-${++uniqueId}`;

/** A labelled form control; `control` gets the id the label points at. */
function field(labelText, control, help) {
  const id = control.id || nextId('f');
  control.id = id;
  const parts = [h('label', { for: id }, labelText), control];
  if (help) {
    const helpId = `${id}-help`;
    control.setAttribute('aria-describedby', helpId);
    parts.push(h('p', { class: 'help', id: helpId }, help));
  }
  return h('div', { class: 'field' }, parts);
}

function select(name, options, current, attributes = {}) {
  return h(
    'select',
    { name, ...attributes },
    options.map(([value, text]) => h('option', { value, selected: value === current }, text)),
  );
}

function badge(kind, value) {
  return h('span', { class: `badge ${kind}-${value}` }, label(kind, value));
}

function main() {
  return document.getElementById('main');
}

/** Ends the current page's subscriptions and timers (before it is left or rendered again). */
function leavePage() {
  for (const cleanup of pageCleanups) cleanup();
  pageCleanups = [];
}

/** Thrown by `render` for a page the user has already left. */
class Navigated extends Error {}

/** The location the page being rendered belongs to (set by the router). */
let renderingFor = null;

/** Replaces the page content, sets the title and moves focus to the page heading. */
function render(title, ...content) {
  // A page that finished loading after the user moved on is not shown.
  if (renderingFor !== null && location.hash !== renderingFor) throw new Navigated();
  // A page rendered again (after a command, a live update) drops the old one's subscriptions.
  leavePage();
  document.title = `${title} – ITSM`;
  const heading = h('h1', { tabindex: '-1' }, title);
  put(main(), heading, content);
  heading.focus();
  return heading;
}

/** A message box: errors and warnings interrupt (alert), the rest is announced politely. */
function alertBox(text, kind = 'error') {
  const role = kind === 'error' || kind === 'warning' ? 'alert' : 'status';
  return h('div', { class: `alert alert-${kind}`, role }, text);
}

// ---------------------------------------------------------------------------------------------
// API

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }

  /** What the user reads: the problem's title and detail in the chosen language. */
  message_() {
    if (this.status === 412) return t('error.changed_meanwhile');
    if (this.status === 403) return t('error.forbidden');
    if (this.status === 0) return t('error.network');
    const { title, detail } = this.problem;
    return detail && detail !== title ? `${title}: ${detail}` : title || t('error.unexpected');
  }
}

async function api(method, path, body, headers = {}) {
  const init = {
    method,
    credentials: 'same-origin',
    // Reads differ by caller: never from or into the browser's cache (a shared PC).
    cache: 'no-store',
    headers: { Accept: 'application/json', 'Accept-Language': lang(), ...headers },
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const csrf = localStorage.getItem(CSRF_KEY);
  if (method !== 'GET' && csrf) init.headers['X-CSRF-Token'] = csrf;
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, {});
  }
  const type = response.headers.get('content-type') || '';
  const data = type.includes('json') ? await response.json() : null;
  if (response.status === 401 && path !== '/api/v1/login') {
    endSession();
    location.hash = '#/login';
    throw new ApiError(401, data || {});
  }
  if (response.status === 403 && data && data.code === 'csrf_token_invalid') {
    // This browser lost the session's CSRF token: log in again.
    endSession();
    location.hash = '#/login';
  }
  if (!response.ok) throw new ApiError(response.status, data || {});
  return data;
}

const get = (path) => api('GET', path);

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

const hasRole = (roles) => session.me && session.me.roles.some((role) => roles.includes(role));
const isAgent = () => hasRole(AGENTS);

// ---------------------------------------------------------------------------------------------
// Live updates: one EventSource per session, shared by the pages.

const live = {
  source: null,
  listeners: new Set(),
  start() {
    if (!session.me) return;
    // A stream the browser gave up on (401 or 503 on reconnect) is opened again.
    if (this.source && this.source.readyState !== EventSource.CLOSED) return;
    this.source = new EventSource('/api/v1/events/stream');
    const dispatch = (kind) => (event) => {
      let data = null;
      try {
        data = event.data ? JSON.parse(event.data) : null;
      } catch {
        data = null;
      }
      for (const listener of this.listeners) listener(kind, data);
    };
    for (const kind of ['ready', 'ticket', 'queues', 'resync']) {
      this.source.addEventListener(kind, dispatch(kind));
    }
    this.source.addEventListener('ready', () => setLiveIndicator(true));
    this.source.addEventListener('error', () => setLiveIndicator(false));
  },
  stop() {
    if (this.source) this.source.close();
    this.source = null;
    setLiveIndicator(false);
  },
  /** Calls `listener(kind, data)` until the page changes. */
  subscribe(listener) {
    this.listeners.add(listener);
    pageCleanups.push(() => this.listeners.delete(listener));
  },
};

function setLiveIndicator(connected) {
  const indicator = document.getElementById('live');
  if (!indicator) return;
  indicator.textContent = connected ? t('live.on') : t('live.off');
  indicator.className = connected ? 'live live-on' : 'live live-off';
}

/** Runs `action` at most once per `ms`, after the last call. */
function debounce(action, ms) {
  let timer = null;
  const run = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => action(...args), ms);
  };
  pageCleanups.push(() => clearTimeout(timer));
  return run;
}

// ---------------------------------------------------------------------------------------------
// Session and frame

function endSession() {
  session.me = null;
  localStorage.removeItem(CSRF_KEY);
  live.stop();
}

async function loadMe() {
  try {
    session.me = await get('/api/v1/me');
  } catch {
    session.me = null;
  }
}

function homeRoute() {
  if (!session.me) return '#/login';
  if (isAgent()) return '#/dashboard';
  if (hasRole(['requester'])) return '#/portal';
  if (hasRole(ASSET_READERS)) return '#/assets';
  return '#/portal';
}

function renderFrame() {
  document.documentElement.lang = lang();
  const skip = document.getElementById('skip');
  skip.textContent = t('skip_to_content');
  const links = [];
  if (isAgent()) {
    links.push(['#/dashboard', t('nav.dashboard')], ['#/tickets', t('nav.worklist')]);
  }
  if (hasRole(['requester'])) {
    links.push(['#/portal', t('nav.portal')], ['#/portal/tickets', t('nav.my_tickets')]);
  }
  if (hasRole(ASSET_READERS)) links.push(['#/assets', t('nav.assets')]);
  const current = currentPath();
  const nav = session.me
    ? h(
        'nav',
        { 'aria-label': t('nav.label') },
        h(
          'ul',
          {},
          links.map(([href, text]) =>
            h('li', {}, h('a', { href, 'aria-current': current.startsWith(href) ? 'page' : null }, text)),
          ),
        ),
      )
    : null;
  const languages = select(
    'language',
    [
      ['de', 'Deutsch'],
      ['en', 'English'],
    ],
    lang(),
    {
      onchange: (event) => {
        setLang(event.target.value);
        route();
      },
    },
  );
  const user = session.me
    ? [
        h('span', { class: 'user' }, t('signed_in_as'), ' ', h('strong', {}, session.me.user)),
        h('span', { id: 'live', class: 'live live-off', role: 'status' }, t('live.off')),
        h('button', { type: 'button', class: 'secondary', id: 'shortcuts', onclick: showHelp }, t('keys.title')),
        h('button', { type: 'button', class: 'secondary', id: 'logout', onclick: logout }, t('logout')),
      ]
    : [];
  put(document.getElementById('top'), 
    h('a', { class: 'brand', href: '#/' }, 'ITSM'),
    nav,
    h('div', { class: 'tools' }, field(t('language'), languages), user),
  );
  if (live.source && live.source.readyState === EventSource.OPEN) setLiveIndicator(true);
}

async function logout() {
  try {
    await api('POST', '/api/v1/logout');
  } catch (error) {
    // Only a session the server no longer knows is over; otherwise it would still be valid.
    if (!(error instanceof ApiError) || error.status !== 401) {
      render(t('error.title'), alertBox(t('error.logout_failed')));
      return;
    }
  }
  endSession();
  location.hash = '#/login';
}

// ---------------------------------------------------------------------------------------------
// Router

let pageCleanups = [];

const ROUTES = [
  [/^#\/login$/, pageLogin, null],
  [/^#\/dashboard$/, pageDashboard, AGENTS],
  [/^#\/tickets$/, pageWorklist, AGENTS],
  [/^#\/tickets\/([^/]+)$/, pageTicket, AGENTS],
  [/^#\/portal$/, pagePortal, []],
  [/^#\/portal\/new$/, pageReport, []],
  [/^#\/portal\/tickets$/, pageMyTickets, []],
  [/^#\/portal\/tickets\/([^/]+)$/, pageMyTicket, []],
  [/^#\/portal\/thanks\/([^/]+)$/, pageThanks, []],
  [/^#\/assets$/, pageAssets, ASSET_READERS],
  [/^#\/assets\/([^/]+)$/, pageAsset, ASSET_READERS],
];

/** The route part of the location (`#/tickets/…` without its `?…`). */
function currentPath() {
  return location.hash.split('?')[0] || '#/';
}

function params() {
  const [, search = ''] = location.hash.split('?');
  return new URLSearchParams(search);
}

async function route() {
  leavePage();
  const hash = location.hash;
  renderingFor = hash;
  main().removeAttribute('data-ready');
  const path = currentPath();
  if (!session.me && path !== '#/login') {
    await loadMe();
    if (!session.me) {
      location.hash = '#/login';
      return;
    }
  }
  if (session.me) live.start();
  renderFrame();
  for (const [pattern, page, roles] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    if (roles && roles.length > 0 && !hasRole(roles)) {
      render(t('error.forbidden_title'), alertBox(t('error.forbidden')));
      return;
    }
    try {
      await page(...match.slice(1).map(decodeURIComponent));
    } catch (error) {
      if (error instanceof Navigated) return;
      if (error instanceof ApiError && error.status === 401) return;
      if (location.hash !== hash) return;
      render(t('error.title'), alertBox(error instanceof ApiError ? error.message_() : t('error.unexpected')));
    }
    if (location.hash !== hash) return;
    main().dataset.route = hash;
    main().setAttribute('data-ready', '');
    return;
  }
  location.replace(homeRoute());
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// ---------------------------------------------------------------------------------------------
// Login

async function pageLogin() {
  if (session.me) {
    location.replace(homeRoute());
    return;
  }
  const errors = h('div', {});
  const user = h('input', { name: 'user', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h(
    'form',
    { class: 'card narrow', 'aria-describedby': 'login-intro' },
    h('p', { id: 'login-intro' }, t('login.intro')),
    errors,
    field(t('login.user'), user),
    field(t('login.password'), password),
    h('button', { type: 'submit' }, t('login.submit')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    put(errors);
    try {
      const data = await api('POST', '/api/v1/login', { user: user.value, password: password.value });
      localStorage.setItem(CSRF_KEY, data.csrf_token);
      session.me = { user: data.user, roles: data.roles };
      location.hash = homeRoute();
    } catch (error) {
      password.value = '';
      put(errors, alertBox(error.status === 401 ? t('login.failed') : error.message_()));
      password.focus();
    }
  });
  render(t('login.title'), form);
  user.focus();
}

// ---------------------------------------------------------------------------------------------
// Tickets in tables

function slaCell(item) {
  const state = item.sla_state;
  if (!state) return h('td', {}, h('span', { class: 'muted' }, t('sla.none')));
  const warning = state === 'running' && item.warning_at && new Date(item.warning_at) <= new Date();
  const shown = warning ? 'warning' : state;
  const remaining = item.remaining_minutes;
  const left =
    remaining === null || remaining === undefined
      ? null
      : remaining >= 0
        ? t('sla.left', { time: formatMinutes(remaining) })
        : t('sla.over', { time: formatMinutes(-remaining) });
  return h(
    'td',
    {},
    badge('sla', shown),
    left ? h('span', { class: 'left' }, ' ', left) : null,
    item.due_at ? h('span', { class: 'due' }, h('br'), t('sla.due'), ' ', formatTime(item.due_at)) : null,
  );
}

/** The columns of a ticket table: a heading key and the cell of an item. */
const TICKET_COLUMNS = {
  number: ['col.number', (item, linkBase) => h('td', {}, h('a', { href: `${linkBase}${item.number}` }, item.number))],
  title: ['col.title', (item) => h('td', {}, item.title)],
  priority: ['col.priority', (item) => h('td', {}, badge('priority', item.priority))],
  status: ['col.status', (item) => h('td', {}, badge('status', item.status))],
  queue: ['col.queue', (item) => h('td', {}, item.queue || '–')],
  assignee: ['col.assignee', (item) => h('td', {}, item.assignee || '–')],
  sla: ['col.sla', slaCell],
  opened: ['col.opened', (item) => h('td', {}, formatTime(item.opened_at))],
  updated: ['col.updated', (item) => h('td', {}, formatTime(item.updated_at))],
};
const AGENT_COLUMNS = ['number', 'title', 'priority', 'status', 'queue', 'assignee', 'sla', 'opened'];
const REQUESTER_COLUMNS = ['number', 'title', 'status', 'updated'];

/** A table of tickets (agents see queue, assignee and SLA; requesters the last change). */
function ticketTable(items, { caption, linkBase = '#/tickets/', agent = true }) {
  const columns = (agent ? AGENT_COLUMNS : REQUESTER_COLUMNS).map((name) => TICKET_COLUMNS[name]);
  const table = h(
    'table',
    { class: 'tickets' },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, columns.map(([key]) => h('th', { scope: 'col' }, t(key))))),
    h(
      'tbody',
      {},
      items.length === 0
        ? h('tr', {}, h('td', { colspan: columns.length }, t('tickets.none')))
        : items.map((item) => h('tr', { dataset: { number: item.number } }, columns.map(([, cell]) => cell(item, linkBase)))),
    ),
  );
  return h('div', { class: 'table-scroll' }, table);
}

// ---------------------------------------------------------------------------------------------
// Dashboard

async function pageDashboard() {
  const queues = h('section', { 'aria-labelledby': 'dash-queues' });
  const warning = h('section', { 'aria-labelledby': 'dash-sla' });
  const mine = h('section', { 'aria-labelledby': 'dash-mine' });
  render(t('dashboard.title'), h('div', { class: 'dashboard' }, queues, warning, mine));

  const showQueues = (overview) => {
    const statuses = ['new', 'assigned', 'in_progress', 'pending'];
    put(queues, 
      h('h2', { id: 'dash-queues' }, t('dashboard.queues')),
      h(
        'table',
        { class: 'counts' },
        h('caption', { class: 'visually-hidden' }, t('dashboard.queues')),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, t('col.queue')),
            statuses.map((status) => h('th', { scope: 'col' }, label('status', status))),
            h('th', { scope: 'col' }, t('col.total')),
          ),
        ),
        h(
          'tbody',
          {},
          overview.queues.map((row) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, h('a', { href: `#/tickets?queue=${encodeURIComponent(row.queue)}` }, row.queue)),
              statuses.map((status) => h('td', { class: 'number' }, row.counts[status])),
              h('td', { class: 'number' }, row.total),
            ),
          ),
        ),
      ),
    );
  };
  const showLists = async () => {
    const [atRisk, breached, assigned] = await Promise.all([
      get(`/api/v1/tickets${query({ sla: 'warning', sort: 'due', limit: 10 })}`),
      get(`/api/v1/tickets${query({ sla: 'breached', sort: 'due', limit: 10 })}`),
      get(`/api/v1/tickets${query({ assignee: 'me', sort: 'priority', limit: 20 })}`),
    ]);
    keepingRowFocus(warning, () =>
      put(
        warning,
        h('h2', { id: 'dash-sla' }, t('dashboard.sla')),
        ticketTable(atRisk.items, { caption: t('dashboard.sla_warning') }),
        ticketTable(breached.items, { caption: t('dashboard.sla_breached') }),
      ),
    );
    keepingRowFocus(mine, () =>
      put(mine, h('h2', { id: 'dash-mine' }, t('dashboard.mine')), ticketTable(assigned.items, { caption: t('dashboard.mine') })),
    );
  };
  const [overview] = await Promise.all([get('/api/v1/queues'), showLists()]);
  showQueues(overview);
  const refresh = debounce(() => showLists().catch(() => {}), 400);
  live.subscribe((kind, data) => {
    if (kind === 'queues' && data) showQueues(data);
    if (kind === 'ticket' || kind === 'resync') refresh();
  });
}

// ---------------------------------------------------------------------------------------------
// Worklist

async function pageWorklist() {
  const current = params();
  const filters = {
    queue: current.get('queue') || '',
    status: current.get('status') || 'open',
    assignee: current.get('assignee') || '',
    sla: current.get('sla') || '',
    sort: current.get('sort') || 'priority',
    q: current.get('q') || '',
  };
  const pager = h('div', { class: 'pager' });
  const paging = cursorPaging(pager, () => load());
  /** One page: from the search with a search text (no filters, no paging), else the worklist. */
  const fetchPage = async () => {
    if (filters.q) return { items: (await get(`/api/v1/search${query({ q: filters.q, limit: 50 })}`)).items, next: null };
    const { q, ...rest } = filters;
    const data = await get(`/api/v1/tickets${query({ ...rest, cursor: paging.cursor(), limit: 50 })}`);
    return { items: data.items, next: data.next_cursor || null };
  };
  // The queue list (for the filter) and the first page load side by side.
  const [overview, first] = await Promise.all([get('/api/v1/queues'), fetchPage()]);
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': t('worklist.filters') },
    field(t('worklist.search'), h('input', { type: 'search', name: 'q', value: filters.q, id: 'worklist-q' })),
    field(
      t('col.queue'),
      select('queue', [['', t('worklist.all_queues')], ...overview.queues.map((row) => [row.queue, row.queue])], filters.queue),
    ),
    field(
      t('col.status'),
      select('status', STATUS_FILTERS.map((status) => [status, label('status_filter', status)]), filters.status),
    ),
    field(
      t('col.assignee'),
      select(
        'assignee',
        [
          ['', t('worklist.anyone')],
          ['me', t('worklist.me')],
          ['none', t('worklist.nobody')],
        ],
        filters.assignee,
      ),
    ),
    field(t('col.sla'), select('sla', SLA_FILTERS.map((value) => [value, value ? label('sla', value) : t('worklist.any_sla')]), filters.sla)),
    field(t('worklist.sort'), select('sort', SORTS.map((sort) => [sort, label('sort', sort)]), filters.sort)),
    h('button', { type: 'submit' }, t('worklist.apply')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    go(`#/tickets${query(data)}`);
  });
  const results = h('div', { id: 'worklist-results', 'aria-busy': 'true' });
  render(t('worklist.title'), form, results, pager);

  const show = ({ items, next }) => {
    const caption = filters.q ? t('worklist.results_for', { q: filters.q }) : t('worklist.page', { page: paging.number() });
    keepingRowFocus(results, () => put(results, ticketTable(items, { caption })));
    results.setAttribute('aria-busy', 'false');
    paging.show(next);
  };
  const load = async () => {
    results.setAttribute('aria-busy', 'true');
    show(await fetchPage());
  };
  show(first);
  selectRow(0);
  const refresh = debounce(() => load().catch(() => {}), 300);
  live.subscribe((kind) => {
    if (kind === 'ticket' || kind === 'resync') refresh();
  });
}

/**
 * Keyset paging over pages that answer `next_cursor`: `cursor()` of the page shown, and
 * `show(next)` puts previous/next buttons into `pager` that call `load` for the new page.
 */
function cursorPaging(pager, load) {
  const cursors = [''];
  let page = 0;
  const turn = (step) => () => {
    page += step;
    load();
  };
  return {
    cursor: () => cursors[page],
    number: () => page + 1,
    show(next) {
      if (next) cursors[page + 1] = next;
      put(
        pager,
        page > 0 ? h('button', { type: 'button', class: 'secondary', onclick: turn(-1) }, t('worklist.previous')) : null,
        next ? h('button', { type: 'button', class: 'secondary', onclick: turn(1) }, t('worklist.next')) : null,
      );
    },
  };
}

/**
 * Runs `update` (which re-renders ticket rows inside `container`) and puts the focus back on the
 * link of the row that had it, so a live refresh does not throw a keyboard user out.
 */
function keepingRowFocus(container, update) {
  const row = document.activeElement && document.activeElement.closest && document.activeElement.closest('tr[data-number]');
  const number = row && container.contains(row) ? row.dataset.number : null;
  update();
  if (number) container.querySelector(`tr[data-number="${CSS.escape(number)}"] a`)?.focus();
}

/** The worklist row the j/k shortcuts are on. */
let selectedRow = 0;
function selectRow(index) {
  const rows = [...main().querySelectorAll('table.tickets tbody tr[data-number]')];
  if (rows.length === 0) return;
  selectedRow = Math.max(0, Math.min(rows.length - 1, index));
  rows.forEach((row, position) => row.classList.toggle('selected', position === selectedRow));
  return rows[selectedRow];
}

// ---------------------------------------------------------------------------------------------
// Ticket page (agents)

/** The ticket view; with `after` once it reflects that consistency token. */
function loadTicket(reference, after) {
  return get(`/api/v1/tickets/${encodeURIComponent(reference)}${query({ after })}`);
}

async function pageTicket(reference, after, keep) {
  const view = await loadTicket(reference, after);
  const [sla, history, service] = await Promise.all([
    get(`/api/v1/tickets/${view.id}/sla`).catch(() => ({ clocks: [] })),
    get(`/api/v1/tickets/${view.id}/history`),
    serviceNamed(view.service_id),
  ]);
  // The service's form names and types the ticket's additional fields for editing.
  view.serviceForm = service ? service.definition.form : [];
  const notice = h('div', { id: 'ticket-notice' });
  if (keep && keep.notice) notice.append(alertBox(keep.notice, keep.kind || 'error'));
  render(
    `${view.number} · ${view.title}`,
    notice,
    h(
      'div',
      { class: 'ticket-layout' },
      h(
        'div',
        { class: 'ticket-main' },
        detailsSection(view),
        articlesSection(view),
        timelineSection(view, history),
      ),
      h('div', { class: 'ticket-side' }, actionsSection(view, keep), slaSection(sla), linksSection(view)),
    ),
  );
  main().dataset.version = String(view.version);
  live.subscribe((kind, data) => {
    if (kind === 'ticket' && data && data.id === view.id && data.version > view.version) {
      put(notice, 
        alertBox(t('ticket.updated_elsewhere'), 'info'),
        h('button', { type: 'button', class: 'secondary', onclick: () => route() }, t('ticket.reload')),
      );
    }
  });
}

function definitionList(rows) {
  return h(
    'dl',
    { class: 'facts' },
    rows.filter(([, value]) => value !== null && value !== undefined && value !== '').map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
  );
}

/** An additional field's label from the service's form, else its key. */
function fieldLabel(view, key) {
  const formField = (view.serviceForm || []).find((candidate) => candidate.key === key);
  return formField ? localized(formField.label) : key;
}

function detailsSection(view) {
  const requester = [view.requester.name, view.requester.email, view.requester.phone].filter(Boolean).join(' · ');
  const fields = Object.entries(view.fields || {});
  return h(
    'section',
    { 'aria-labelledby': 'ticket-details' },
    h('h2', { id: 'ticket-details' }, t('ticket.details')),
    definitionList([
      [t('ticket.type'), label('type', view.ticket_type)],
      [t('col.status'), badge('status', view.status)],
      [t('col.priority'), [badge('priority', view.priority), ` (${t('ticket.impact')}: ${label('level', view.impact)}, ${t('ticket.urgency')}: ${label('level', view.urgency)})`]],
      [t('col.queue'), view.queue],
      [t('col.assignee'), view.assignee || t('ticket.unassigned')],
      [t('ticket.requester'), requester],
      [t('ticket.service'), view.service_id],
      [t('ticket.category'), view.category_id],
      [t('col.opened'), formatTime(view.opened_at)],
      [t('col.updated'), formatTime(view.updated_at)],
      [t('ticket.pending'), view.pending_reason ? `${label('pending', view.pending_reason)}${view.pending_until ? ` – ${formatTime(view.pending_until)}` : ''}` : null],
      [t('ticket.resolution'), view.resolution_code ? `${openLabel('resolution', view.resolution_code)}: ${view.resolution_text || ''}` : null],
      [t('ticket.tags'), view.tags.length ? view.tags.join(', ') : null],
      ...fields.map(([key, value]) => [fieldLabel(view, key), show(value)]),
    ]),
    h('h3', {}, t('ticket.description')),
    h('p', { class: 'text' }, view.description || '–'),
  );
}

/** Articles oldest first, each under the line `meta(article)` makes; `empty` when none. */
function articleList(articles, meta, empty) {
  if (articles.length === 0) return h('p', { class: 'muted' }, empty);
  return h(
    'ol',
    { class: 'articles' },
    articles.map((article) =>
      h(
        'li',
        { class: `article article-${article.kind}` },
        h('p', { class: 'meta' }, meta(article), ' · ', formatTime(article.created_at)),
        h('p', { class: 'text' }, article.body),
      ),
    ),
  );
}

function articlesSection(view) {
  return h(
    'section',
    { 'aria-labelledby': 'ticket-articles' },
    h('h2', { id: 'ticket-articles' }, t('ticket.articles')),
    articleList(view.articles, (article) => [badge('article', article.kind), ' ', article.author], t('ticket.no_articles')),
  );
}

function timelineSection(view, history) {
  const list = h('ol', { class: 'timeline' });
  const add = (entries) =>
    list.append(
      ...entries.map((entry) =>
        h(
          'li',
          {},
          historyMeta(entry),
          h('p', {}, entry.summary),
          entry.changes.length
            ? h(
                'ul',
                { class: 'changes' },
                entry.changes.map((change) => h('li', {}, `${change.field}: ${show(change.from)} → ${show(change.to)}`)),
              )
            : null,
        ),
      ),
    );
  add(history.entries);
  const more = h('div', {});
  const offerMore = (next) => {
    put(more, 
      next
        ? h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              onclick: async () => {
                const page = await get(`/api/v1/tickets/${view.id}/history${query({ from_version: next })}`);
                add(page.entries);
                offerMore(page.next_from_version);
              },
            },
            t('ticket.more_history'),
          )
        : null,
    );
  };
  offerMore(history.next_from_version);
  return h('section', { 'aria-labelledby': 'ticket-timeline' }, h('h2', { id: 'ticket-timeline' }, t('ticket.timeline')), list, more);
}

/** The line above a history entry: when, who, which event. */
function historyMeta(entry) {
  return h('p', { class: 'meta' }, formatTime(entry.occurred_at), ' · ', entry.actor, ' · ', h('code', {}, entry.event_type));
}

/** An asset history entry's change as `key: value` lines (objects one level deep, empty left out). */
function changeList(change) {
  const pairs = Object.entries(change || {}).flatMap(([key, value]) =>
    value && typeof value === 'object' && !Array.isArray(value) ? Object.entries(value) : [[key, value]],
  );
  const shown = pairs.filter(([, value]) => value !== null && value !== undefined);
  return h('ul', { class: 'changes' }, shown.map(([name, value]) => h('li', {}, `${name}: ${show(value)}`)));
}

/** A list of `items` rendered by `item`, or "None." */
function listOrNone(items, item) {
  return items.length ? h('ul', {}, items.map((entry) => h('li', {}, item(entry)))) : h('p', { class: 'muted' }, t('ticket.none'));
}

function show(value) {
  if (value === null || value === undefined) return '–';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function slaSection(sla) {
  return h(
    'section',
    { 'aria-labelledby': 'ticket-sla' },
    h('h2', { id: 'ticket-sla' }, t('sla.title')),
    sla.clocks.length === 0
      ? h('p', { class: 'muted' }, t('sla.none'))
      : sla.clocks.map((clock) =>
          h(
            'div',
            { class: 'clock' },
            h('h3', {}, label('metric', clock.metric), ' ', badge('sla', clock.state)),
            definitionList([
              [t('sla.target'), formatMinutes(clock.target_minutes)],
              [t('sla.elapsed'), formatMinutes(clock.elapsed_minutes)],
              [t('sla.remaining'), formatMinutes(clock.remaining_minutes)],
              [t('sla.due'), clock.due_at ? formatTime(clock.due_at) : null],
              [t('sla.policy'), `${clock.policy} (v${clock.policy_version})`],
            ]),
            h(
              'details',
              {},
              h('summary', {}, t('sla.explain')),
              h(
                'ul',
                { class: 'segments' },
                clock.segments.map((segment) =>
                  h(
                    'li',
                    {},
                    `${formatTime(segment.from)} – ${segment.to ? formatTime(segment.to) : t('sla.now')}: `,
                    segment.running ? t('sla.segment_running') : t('sla.segment_paused'),
                    ` (${segment.cause}, ${formatMinutes(segment.business_minutes)}, ${t('sla.calendar')} ${segment.calendar})`,
                  ),
                ),
                clock.thresholds.map((threshold) =>
                  h('li', {}, t('sla.threshold', { percent: threshold.percent }), ' ', threshold.reached ? formatTime(threshold.at) : t('sla.not_reached')),
                ),
              ),
            ),
          ),
        ),
  );
}

function linksSection(view) {
  return h(
    'section',
    { 'aria-labelledby': 'ticket-links' },
    h('h2', { id: 'ticket-links' }, t('ticket.links')),
    h('h3', {}, t('ticket.linked_assets')),
    listOrNone(view.assets, (asset) => [h('a', { href: `#/assets/${asset.id}` }, asset.name || asset.id), asset.class ? ` (${asset.class})` : '']),
    h('h3', {}, t('ticket.linked_tickets')),
    listOrNone(view.links, (link) => [
      label('link', link.link_type),
      ': ',
      link.ticket.number ? h('a', { href: `#/tickets/${link.ticket.number}` }, link.ticket.number) : link.ticket.id,
      link.ticket.title ? ` – ${link.ticket.title}` : '',
    ]),
  );
}

/** The forms of the commands the view offers: each a function of (view, keep) → controls. */
const ACTION_FORMS = {
  assign: (view) => [
    field(t('action.assignee'), h('input', { name: 'assignee', required: true, value: view.assignee || '' })),
    field(t('col.queue'), h('input', { name: 'queue', value: view.queue || '' })),
  ],
  start_work: () => [],
  set_pending: () => [
    field(t('action.pending_reason'), select('reason', PENDING_REASONS.map((reason) => [reason, label('pending', reason)]), 'waiting_for_requester')),
    field(t('action.pending_until'), h('input', { name: 'until', type: 'datetime-local' })),
  ],
  resolve: () => [
    field(t('action.resolution_code'), select('code', RESOLUTION_CODES.map((code) => [code, label('resolution', code)]), 'solved')),
    field(t('action.resolution_text'), h('textarea', { name: 'text', required: true, rows: 3 })),
  ],
  reopen: () => [field(t('action.reason'), h('input', { name: 'reason', required: true }))],
  close: () => [],
  cancel: () => [field(t('action.reason'), h('input', { name: 'reason', required: true }))],
  merge: () => [field(t('action.merge_into'), h('input', { name: 'into', required: true, placeholder: '2026-000123' }))],
  add_reply: () => [field(t('action.body'), h('textarea', { name: 'body', required: true, rows: 5 }))],
  add_note: () => [field(t('action.body'), h('textarea', { name: 'body', required: true, rows: 4 }))],
  add_requester_message: () => [field(t('action.body'), h('textarea', { name: 'body', required: true, rows: 4 }))],
  set_priority: (view) => [
    field(t('ticket.impact'), select('impact', LEVELS.map((level) => [level, label('level', level)]), view.impact)),
    field(t('ticket.urgency'), select('urgency', LEVELS.map((level) => [level, label('level', level)]), view.urgency)),
  ],
  set_fields: (view) => {
    const form = view.serviceForm || [];
    const onForm = new Set(form.map((formField) => formField.key));
    const others = Object.fromEntries(Object.entries(view.fields || {}).filter(([key]) => !onForm.has(key)));
    return [
      ...form.map((formField) => catalogField(formField, (view.fields || {})[formField.key], false).element),
      field(t('action.fields'), h('textarea', { name: 'fields', rows: 3, value: JSON.stringify(others, null, 2) }), t('action.fields_help')),
    ];
  },
  set_tags: (view) => [field(t('ticket.tags'), h('input', { name: 'tags', value: view.tags.join(', ') }), t('action.tags_help'))],
  link: () => [
    field(t('action.link_type'), select('link_type', LINK_TYPES.map((type) => [type, label('link', type)]), 'relates_to')),
    field(t('action.target_ticket'), h('input', { name: 'target', required: true, placeholder: '2026-000123' })),
  ],
  unlink: (view) => [
    field(
      t('action.link'),
      select('link', view.links.filter((link) => link.direction === 'outgoing').map((link) => [`${link.link_type}|${link.ticket.id}`, `${label('link', link.link_type)}: ${link.ticket.number || link.ticket.id}`]), ''),
    ),
  ],
  link_asset: () => [field(t('action.asset'), h('input', { name: 'asset', required: true }), t('action.asset_help'))],
  unlink_asset: (view) => [field(t('action.asset'), select('asset', view.assets.map((asset) => [asset.id, asset.name || asset.id]), ''))],
};

/** The actions the keyboard reaches directly. */
const ACTION_KEYS = { add_reply: 'r', add_note: 'n', assign: 'a', resolve: 'e', set_pending: 'p', start_work: 's' };

async function ticketIdOf(number) {
  const view = await get(`/api/v1/tickets/${encodeURIComponent(number.trim())}`);
  return view.id;
}

async function assetIdOf(text) {
  const value = text.trim();
  if (/^[0-9a-f-]{36}$/i.test(value)) return value;
  const page = await get(`/api/v1/assets${query({ q: value, limit: 2 })}`);
  if (page.items.length !== 1) throw new ApiError(422, { title: t('action.asset_not_unique') });
  return page.items[0].id;
}

/** The command body of a submitted action form. */
async function commandOf(type, data, view, formElement) {
  switch (type) {
    case 'assign':
      return { type, assignee: data.assignee.trim(), ...(data.queue && data.queue !== view.queue ? { queue: data.queue.trim() } : {}) };
    case 'set_pending':
      return { type, reason: data.reason, ...(data.until ? { until: new Date(data.until).toISOString() } : {}) };
    case 'resolve':
      return { type, code: data.code, text: data.text };
    case 'reopen':
    case 'cancel':
      return { type, reason: data.reason };
    case 'merge':
      return { type, into: await ticketIdOf(data.into) };
    case 'add_reply':
    case 'add_note':
    case 'add_requester_message':
      return { type, body: data.body, channel: 'agent_ui' };
    case 'set_priority':
      return { type, impact: data.impact, urgency: data.urgency };
    case 'set_fields': {
      let fields;
      try {
        fields = JSON.parse(data.fields || '{}');
      } catch {
        throw new ApiError(422, { title: t('action.fields_invalid') });
      }
      Object.assign(fields, fieldChanges(view.serviceForm || [], formElement, view.fields || {}));
      return { type, fields };
    }
    case 'set_tags':
      return { type, tags: data.tags.split(',').map((tag) => tag.trim()).filter(Boolean) };
    case 'link':
      return { type, link_type: data.link_type, target: await ticketIdOf(data.target) };
    case 'unlink': {
      const [linkType, target] = (data.link || '').split('|');
      return { type, link_type: linkType, target };
    }
    case 'link_asset':
      return { type, asset_id: await assetIdOf(data.asset) };
    case 'unlink_asset':
      return { type, asset_id: data.asset };
    default:
      return { type };
  }
}

function actionsSection(view, keep) {
  const section = h('section', { 'aria-labelledby': 'ticket-actions', class: 'actions' }, h('h2', { id: 'ticket-actions' }, t('ticket.actions')));
  if (view.actions.length === 0) {
    section.append(h('p', { class: 'muted' }, t('ticket.no_actions')));
    return section;
  }
  const quick = h('div', { class: 'quick' });
  if (view.actions.includes('assign') && view.assignee !== session.me.user) {
    quick.append(
      h(
        'button',
        { type: 'button', id: 'action-take', 'aria-keyshortcuts': 't', onclick: () => send(view, { type: 'assign', assignee: session.me.user }, null) },
        t('action.take'),
      ),
    );
  }
  section.append(quick);
  for (const type of view.actions) {
    const build = ACTION_FORMS[type];
    if (!build) continue;
    const id = `action-${type}`;
    const form = h('form', { class: 'action', id: `${id}-form`, 'aria-labelledby': `${id}-summary` });
    const controls = build(view);
    form.append(...controls, h('button', { type: 'submit' }, label('action', type)));
    const restored = keep && keep.forms && keep.forms[type];
    if (restored) {
      for (const [name, value] of Object.entries(restored)) {
        const control = form.elements.namedItem(name);
        if (control && 'value' in control) control.value = value;
      }
    }
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(form));
      try {
        const command = await commandOf(type, data, view, form);
        await send(view, command, { [type]: data });
      } catch (error) {
        form.prepend(alertBox(error instanceof ApiError ? error.message_() : t('error.unexpected')));
      }
    });
    const details = h(
      'details',
      { id, open: restored ? true : null },
      h('summary', { id: `${id}-summary`, 'aria-keyshortcuts': ACTION_KEYS[type] || null }, label('action', type), ACTION_KEYS[type] ? h('kbd', {}, ACTION_KEYS[type]) : null),
      form,
    );
    section.append(details);
  }
  return section;
}

/**
 * Sends one command with the version the page shows (`If-Match`). A stale version (412) reloads
 * the ticket with "changed meanwhile" and keeps what was typed; nothing is overwritten.
 */
async function send(view, command, typed) {
  leavePage();
  try {
    const data = await api('POST', `/api/v1/tickets/${view.id}/commands`, command, { 'If-Match': `"${view.version}"` });
    await pageTicket(view.number, data.consistency_token || undefined, { notice: t('action.done', { action: label('action', command.type) }), kind: 'success' });
  } catch (error) {
    if (error instanceof Navigated) return;
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 412) {
      await pageTicket(view.number, undefined, { notice: t('error.changed_meanwhile'), kind: 'warning', forms: typed || {} });
      return;
    }
    // Refused: the page as it is now, the reason on top, the input kept.
    await pageTicket(view.number, undefined, { notice: error.message_(), kind: 'error', forms: typed || {} });
  }
}

// ---------------------------------------------------------------------------------------------
// Portal

/** A catalog service by name (retired ones too), or null when there is none by that name. */
async function serviceNamed(name) {
  return name ? get(`/api/v1/config/services/${encodeURIComponent(name)}`).catch(() => null) : null;
}

async function catalog() {
  const [categories, services] = await Promise.all([get('/api/v1/config/categories'), get('/api/v1/config/services')]);
  const active = (items) => items.filter((item) => !item.retired);
  return {
    categories: active(categories).sort((a, b) => (a.definition.order || 0) - (b.definition.order || 0)),
    services: active(services),
  };
}

async function pagePortal() {
  const { categories, services } = await catalog();
  const report = h('a', { class: 'button big', href: '#/portal/new', id: 'report-problem' }, t('portal.report'));
  const sections = categories.map((category) => {
    const own = services.filter((service) => service.definition.category === category.name);
    if (own.length === 0) return null;
    const headingId = nextId('cat');
    return h(
      'section',
      { class: 'category', 'aria-labelledby': headingId },
      h('h3', { id: headingId }, localized(category.definition.title)),
      category.definition.description ? h('p', {}, localized(category.definition.description)) : null,
      h(
        'ul',
        { class: 'services' },
        own.map((service) =>
          h(
            'li',
            {},
            h('a', { href: `#/portal/new?service=${encodeURIComponent(service.name)}` }, localized(service.definition.title)),
            h('p', { class: 'muted' }, localized(service.definition.description)),
          ),
        ),
      ),
    );
  });
  render(
    t('portal.title'),
    h('p', { class: 'lead' }, t('portal.intro')),
    report,
    h('h2', {}, t('portal.catalog')),
    sections.some(Boolean) ? sections : h('p', { class: 'muted' }, t('portal.empty_catalog')),
    h('p', {}, h('a', { href: '#/portal/tickets' }, t('portal.my_tickets_link'))),
  );
}

/** Whether a form field shows, given the answers so far (the catalog's `visible_if`). */
function visible(formField, answers, form) {
  if (!formField.visible_if) return true;
  const controlling = form.find((other) => other.key === formField.visible_if.field);
  if (controlling && !visible(controlling, answers, form)) return false;
  return JSON.stringify(answers[formField.visible_if.field]) === JSON.stringify(formField.visible_if.equals);
}

function formControl(formField, required) {
  const name = `field.${formField.key}`;
  switch (formField.kind) {
    case 'long_text':
      return h('textarea', { name, rows: 4, required });
    case 'number':
      return h('input', { name, type: 'number', step: 'any', required });
    case 'date':
      return h('input', { name, type: 'date', required });
    case 'boolean':
      return h('input', { name, type: 'checkbox' });
    case 'select':
      return select(name, [['', t('portal.choose')], ...formField.options.map((option) => [option, option])], '', { required });
    default:
      return h('input', { name, required });
  }
}

/** A catalog form field, labelled and filled with `value`; `required` marks (and requires) it. */
function catalogField(formField, value, required) {
  const control = formControl(formField, required || null);
  if (formField.kind === 'boolean') control.checked = value === true;
  else if (value !== undefined && value !== null) control.value = String(value);
  const text = `${localized(formField.label)}${required ? ` (${t('portal.required')})` : ''}`;
  return { control, element: field(text, control, formField.help ? localized(formField.help) : null) };
}

/** The changes of a ticket's additional fields that the catalog fields in `formElement` make:
 * a changed answer is set, an emptied one removed (`null`), an untouched one left out. */
function fieldChanges(form, formElement, before) {
  const changes = {};
  for (const formField of form) {
    const answer = answerOf(formField, formElement.elements.namedItem(`field.${formField.key}`));
    const value = answer ?? null;
    const previous = before[formField.key];
    if (previous === undefined && (value === null || value === false)) continue;
    if (JSON.stringify(value) !== JSON.stringify(previous)) changes[formField.key] = value;
  }
  return changes;
}

function answerOf(formField, control) {
  if (formField.kind === 'boolean') return control.checked;
  if (control.value === '') return undefined;
  if (formField.kind === 'number') return Number(control.value);
  return control.value;
}

/**
 * The controls of a catalog form: `elements` to show, `answers()` of the visible fields, and
 * `controls` by key. A field with `visible_if` shows (and is sent) only for that answer.
 */
function catalogForm(form) {
  const wrappers = new Map();
  const controls = new Map();
  const current = () => {
    const result = {};
    for (const formField of form) {
      const value = answerOf(formField, controls.get(formField.key));
      if (value !== undefined) result[formField.key] = value;
    }
    return result;
  };
  const update = () => {
    const answers = current();
    for (const formField of form) {
      const shown = visible(formField, answers, form);
      wrappers.get(formField.key).hidden = !shown;
      controls.get(formField.key).disabled = !shown;
    }
  };
  const elements = form.map((formField) => {
    const { control, element: wrapper } = catalogField(formField, undefined, formField.required);
    controls.set(formField.key, control);
    wrappers.set(formField.key, wrapper);
    control.addEventListener('change', update);
    control.addEventListener('input', update);
    return wrapper;
  });
  update();
  const answers = () => {
    const all = current();
    return Object.fromEntries(Object.entries(all).filter(([key]) => visible(form.find((formField) => formField.key === key), all, form)));
  };
  return { elements, answers, controls };
}

/** The new ticket a portal form describes. */
function reportedTicket(service, inputs, fields) {
  return {
    type: service ? service.definition.default_ticket_type : 'incident',
    title: inputs.title.value.trim(),
    description: inputs.description.value,
    requester: { name: session.me.user },
    impact: 'low',
    urgency: inputs.urgency.value,
    channel: 'portal',
    ...(service ? { service_id: service.name, category_id: service.definition.category, fields } : {}),
  };
}

/** Shows a refusal of the portal form and moves the focus to the field it names. */
function showRefusal(errors, error, controls) {
  errors.append(alertBox(error instanceof ApiError ? error.message_() : t('error.unexpected')));
  const named = ((error.problem || {}).field || '').replace(/^fields\./, '');
  const control = controls.get(named);
  if (control) {
    control.setAttribute('aria-invalid', 'true');
    control.focus();
  }
}

async function pageReport() {
  const serviceName = params().get('service');
  const found = await serviceNamed(serviceName);
  const service = found && !found.retired ? found : null;
  const catalog = catalogForm(service ? service.definition.form : []);
  const errors = h('div', {});
  const inputs = {
    title: h('input', { name: 'title', required: true, maxlength: 200 }),
    description: h('textarea', { name: 'description', rows: 6 }),
    urgency: select('urgency', LEVELS.map((level) => [level, label('urgency', level)]), 'medium'),
  };
  const controls = new Map([...catalog.controls, ['title', inputs.title]]);
  // One key per filled-in form: a double submit opens one ticket; a refusal gets a new key.
  let idempotencyKey = crypto.randomUUID();
  const element = h(
    'form',
    { class: 'card', novalidate: true },
    errors,
    h('p', {}, t('portal.required_note')),
    field(`${t('portal.subject')} (${t('portal.required')})`, inputs.title, t('portal.subject_help')),
    field(t('portal.description'), inputs.description, t('portal.description_help')),
    field(t('portal.urgency'), inputs.urgency, t('portal.urgency_help')),
    catalog.elements,
    h('button', { type: 'submit' }, t('portal.submit')),
  );
  element.addEventListener('submit', async (event) => {
    event.preventDefault();
    put(errors);
    if (!inputs.title.value.trim()) {
      showRefusal(errors, new ApiError(422, { title: t('portal.subject_missing'), field: 'title' }), controls);
      return;
    }
    try {
      const ticket = reportedTicket(service, inputs, catalog.answers());
      const data = await api('POST', '/api/v1/tickets', ticket, { 'Idempotency-Key': idempotencyKey });
      location.replace(`#/portal/thanks/${encodeURIComponent(data.number)}`);
    } catch (error) {
      idempotencyKey = crypto.randomUUID();
      showRefusal(errors, error, controls);
    }
  });
  const title = service ? localized(service.definition.title) : t('portal.report');
  render(title, service ? h('p', { class: 'lead' }, localized(service.definition.description)) : null, element);
}

async function pageThanks(number) {
  render(
    t('portal.thanks'),
    h('p', { class: 'lead confirmation', id: 'confirmation' }, t('portal.confirmation', { number })),
    h('p', {}, h('a', { href: `#/portal/tickets/${encodeURIComponent(number)}` }, t('portal.follow', { number }))),
    h('p', {}, h('a', { href: '#/portal' }, t('portal.back'))),
  );
}

async function pageMyTickets() {
  const load = async () => get(`/api/v1/tickets${query({ status: 'all', sort: 'updated', limit: 50 })}`);
  const list = h('div', {});
  const show = (page) =>
    keepingRowFocus(list, () => put(list, ticketTable(page.items, { caption: t('portal.my_tickets'), linkBase: '#/portal/tickets/', agent: false })));
  show(await load());
  render(t('portal.my_tickets'), h('p', {}, h('a', { class: 'button', href: '#/portal/new' }, t('portal.report'))), list);
  const refresh = debounce(async () => show(await load()), 300);
  live.subscribe((kind) => {
    if (kind === 'ticket' || kind === 'resync') refresh();
  });
}

/** The reply being written on a requester's ticket page, read when the page is rendered anew. */
function replyInProgress() {
  const body = document.getElementById('reply-body');
  return body ? { text: body.value, focused: document.activeElement === body } : null;
}

async function pageMyTicket(reference, after, notice, keepReply) {
  const view = await loadTicket(reference, after);
  // Read what is being written only now, after the fetch: nothing typed meanwhile is lost.
  const typed = keepReply ? replyInProgress() : null;
  const conversation = view.articles.filter((article) => article.kind !== 'internal_note');
  const errors = h('div', {});
  if (notice) errors.append(alertBox(notice, 'success'));
  const replyForm = view.actions.includes('add_requester_message')
    ? (() => {
        const body = h('textarea', { name: 'body', rows: 5, required: true, id: 'reply-body', value: typed && typed.text });
        const form = h('form', { class: 'card', 'aria-labelledby': 'reply-title' }, h('h2', { id: 'reply-title' }, t('portal.reply')), field(t('portal.your_message'), body), h('button', { type: 'submit' }, t('portal.send')));
        // One key per written message: a double submit or a retry records it once.
        let idempotencyKey = crypto.randomUUID();
        const submit = form.querySelector('button[type=submit]');
        form.addEventListener('submit', async (event) => {
          event.preventDefault();
          if (submit.disabled) return;
          if (!body.value.trim()) {
            put(errors, alertBox(t('portal.message_missing')));
            body.focus();
            return;
          }
          try {
            // The page is rendered anew with the answer: no live update may render it meanwhile.
            leavePage();
            submit.disabled = true;
            const message = { type: 'add_requester_message', body: body.value, channel: 'portal' };
            const data = await api('POST', `/api/v1/tickets/${view.id}/commands`, message, { 'Idempotency-Key': idempotencyKey });
            await pageMyTicket(view.number, data.consistency_token || undefined, t('portal.sent'));
          } catch (error) {
            if (error instanceof Navigated) return;
            submit.disabled = false;
            if (error instanceof ApiError && error.status >= 400 && error.status < 500) idempotencyKey = crypto.randomUUID();
            put(errors, alertBox(error instanceof ApiError ? error.message_() : t('error.unexpected')));
          }
        });
        return form;
      })()
    : null;
  render(
    `${view.number} · ${view.title}`,
    errors,
    definitionList([
      [t('col.status'), badge('status', view.status)],
      [t('col.opened'), formatTime(view.opened_at)],
      [t('col.updated'), formatTime(view.updated_at)],
      [t('ticket.resolution'), view.resolution_text],
    ]),
    h('h2', {}, t('ticket.description')),
    h('p', { class: 'text' }, view.description || '–'),
    h('h2', {}, t('portal.conversation')),
    articleList(
      conversation,
      (article) => (article.kind === 'public_reply' ? t('portal.from_service_desk') : t('portal.from_you')),
      t('portal.no_messages'),
    ),
    replyForm,
  );
  main().dataset.version = String(view.version);
  if (typed && typed.focused) document.getElementById('reply-body')?.focus();
  live.subscribe((kind, data) => {
    if (kind === 'ticket' && data && data.id === view.id && data.version > view.version) {
      // Show the news, keep what is being written.
      pageMyTicket(view.number, data.cursor, null, true).catch(() => {});
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Assets

async function pageAssets() {
  const current = params();
  const filters = { q: current.get('q') || '', class: current.get('class') || '', lifecycle: current.get('lifecycle') || '' };
  const classes = await get('/api/v1/config/asset-classes').catch(() => []);
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': t('assets.filters') },
    field(t('assets.search'), h('input', { type: 'search', name: 'q', value: filters.q })),
    field(t('assets.class'), select('class', [['', t('assets.all_classes')], ...classes.filter((item) => !item.retired).map((item) => [item.name, localized(item.definition.title)])], filters.class)),
    field(t('assets.lifecycle'), select('lifecycle', [['', t('assets.all_lifecycles')], ...LIFECYCLES.map((state) => [state, label('lifecycle', state)])], filters.lifecycle)),
    h('button', { type: 'submit' }, t('worklist.apply')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go(`#/assets${query(Object.fromEntries(new FormData(form)))}`);
  });
  const results = h('div', {});
  const pager = h('div', { class: 'pager' });
  const paging = cursorPaging(pager, () => load());
  const load = async () => {
    const data = await get(`/api/v1/assets${query({ ...filters, cursor: paging.cursor(), limit: 50 })}`);
    put(results, 
      h(
        'table',
        { class: 'assets' },
        h('caption', {}, t('worklist.page', { page: paging.number() })),
        h('thead', {}, h('tr', {}, ['assets.name', 'assets.class', 'assets.lifecycle', 'assets.inventory_number', 'assets.location', 'assets.user'].map((key) => h('th', { scope: 'col' }, t(key))))),
        h(
          'tbody',
          {},
          data.items.length === 0
            ? h('tr', {}, h('td', { colspan: 6 }, t('assets.none')))
            : data.items.map((asset) =>
                h(
                  'tr',
                  {},
                  h('td', {}, h('a', { href: `#/assets/${asset.id}` }, asset.name), asset.missing ? [' ', badge('asset', 'missing')] : null),
                  h('td', {}, asset.class),
                  h('td', {}, badge('lifecycle', asset.lifecycle)),
                  h('td', {}, asset.inventory_number || '–'),
                  h('td', {}, asset.location || '–'),
                  h('td', {}, asset.user || '–'),
                ),
              ),
        ),
      ),
    );
    paging.show(data.next_cursor);
  };
  await load();
  render(t('assets.title'), form, results, pager);
}

async function pageAsset(id) {
  const [asset, history] = await Promise.all([get(`/api/v1/assets/${encodeURIComponent(id)}`), get(`/api/v1/assets/${encodeURIComponent(id)}/history`)]);
  const relationList = (relations, arrow) =>
    listOrNone(relations, (relation) => [
      label('relation', relation.relation),
      arrow,
      h('a', { href: `#/assets/${relation.asset_id}` }, relation.name || relation.asset_id),
      ` (${t('assets.since')} ${formatTime(relation.since)})`,
    ]);
  render(
    asset.name,
    h(
      'section',
      { 'aria-labelledby': 'asset-details' },
      h('h2', { id: 'asset-details' }, t('ticket.details')),
      definitionList([
        [t('assets.class'), asset.class],
        [t('assets.lifecycle'), badge('lifecycle', asset.lifecycle)],
        [t('assets.incident_state'), badge('incident', asset.incident_state)],
        [t('assets.inventory_number'), asset.inventory_number],
        [t('assets.serial_number'), asset.serial_number],
        [t('assets.location'), asset.location],
        [t('assets.user'), asset.user],
        [t('assets.owner'), asset.owner],
        [t('assets.cost_centre'), asset.cost_centre],
        [t('assets.missing'), asset.missing ? t('yes') : null],
        ...Object.entries(asset.attributes || {}).map(([key, value]) => [key, show(value)]),
      ]),
    ),
    h('section', { 'aria-labelledby': 'asset-relations' }, h('h2', { id: 'asset-relations' }, t('assets.relations')), h('h3', {}, t('assets.outgoing')), relationList(asset.relations.outgoing, ' → '), h('h3', {}, t('assets.incoming')), relationList(asset.relations.incoming, ' ← ')),
    h(
      'section',
      { 'aria-labelledby': 'asset-tickets' },
      h('h2', { id: 'asset-tickets' }, t('assets.tickets')),
      listOrNone(asset.tickets, (ticket) => [
        isAgent() ? h('a', { href: `#/tickets/${ticket.number}` }, ticket.number) : ticket.number,
        ' ',
        badge('status', ticket.status),
        ticket.title ? ` ${ticket.title}` : '',
      ]),
    ),
    h(
      'section',
      { 'aria-labelledby': 'asset-sources' },
      h('h2', { id: 'asset-sources' }, t('assets.sources')),
      listOrNone(asset.sources, (source) => `${source.source} (${source.external_id}): ${t('assets.last_seen')} ${formatTime(source.last_seen_at)}`),
    ),
    h(
      'section',
      { 'aria-labelledby': 'asset-history' },
      h('h2', { id: 'asset-history' }, t('ticket.timeline')),
      h('ol', { class: 'timeline' }, history.items.map((entry) => h('li', {}, historyMeta(entry), changeList(entry.change)))),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Keyboard: single keys, off with the switch in the help (WCAG 2.1.4); never while typing.

function shortcutsOn() {
  return localStorage.getItem(SHORTCUTS_KEY) !== 'off';
}

function showHelp() {
  const existing = document.getElementById('help-dialog');
  if (existing) existing.remove();
  const toggle = h('input', { type: 'checkbox', id: 'shortcuts-on', checked: shortcutsOn() });
  toggle.addEventListener('change', () => localStorage.setItem(SHORTCUTS_KEY, toggle.checked ? 'on' : 'off'));
  const rows = [
    ['?', t('keys.help')],
    ['g d', t('nav.dashboard')],
    ['g w', t('nav.worklist')],
    ['/', t('keys.search')],
    ['j / k', t('keys.rows')],
    ['Enter', t('keys.open')],
    ['t', t('action.take')],
    ...Object.entries(ACTION_KEYS).map(([action, key]) => [key, label('action', action)]),
  ];
  const dialog = h(
    'dialog',
    { id: 'help-dialog', 'aria-labelledby': 'help-title' },
    h('h2', { id: 'help-title' }, t('keys.title')),
    h('table', {}, h('caption', { class: 'visually-hidden' }, t('keys.title')), h('tbody', {}, rows.map(([key, text]) => h('tr', {}, h('th', { scope: 'row' }, h('kbd', {}, key)), h('td', {}, text))))),
    h('div', { class: 'field inline' }, toggle, h('label', { for: 'shortcuts-on' }, t('keys.enabled'))),
    h('button', { type: 'button', onclick: () => dialog.close() }, t('close')),
  );
  document.body.append(dialog);
  dialog.showModal();
}

let pendingG = false;
document.addEventListener('keydown', (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.closest && target.closest('input, textarea, select, [contenteditable], dialog')) return;
  if (!shortcutsOn() || !session.me) return;
  if (event.key === '?') {
    event.preventDefault();
    showHelp();
    return;
  }
  if (pendingG) {
    pendingG = false;
    if (event.key === 'd') go('#/dashboard');
    if (event.key === 'w') go('#/tickets');
    return;
  }
  const path = currentPath();
  switch (event.key) {
    case 'g':
      pendingG = true;
      setTimeout(() => {
        pendingG = false;
      }, 1500);
      return;
    case '/': {
      const search = document.getElementById('worklist-q');
      if (search) {
        event.preventDefault();
        search.focus();
      }
      return;
    }
    case 'j':
    case 'k': {
      const row = selectRow(selectedRow + (event.key === 'j' ? 1 : -1));
      if (row) row.querySelector('a').focus();
      return;
    }
    default:
  }
  if (/^#\/tickets\/[^/]+$/.test(path)) {
    if (event.key === 't') {
      document.getElementById('action-take')?.click();
      return;
    }
    const action = Object.entries(ACTION_KEYS).find(([, key]) => key === event.key);
    if (action) {
      const details = document.getElementById(`action-${action[0]}`);
      if (details) {
        event.preventDefault();
        details.open = true;
        const first = details.querySelector('input, textarea, select, button[type=submit]');
        if (first) first.focus();
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Start

document.getElementById('skip').addEventListener('click', (event) => {
  event.preventDefault();
  const heading = main().querySelector('h1');
  (heading || main()).focus();
});
window.addEventListener('hashchange', route);
window.itsmMissingTranslations = missingKeys;
route();
