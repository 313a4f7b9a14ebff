// Tollgate finance dashboard: sign in with the admin token, read /admin/spend and /admin/tenants, render totals and charts.
import { drawTimeChart, palette } from './charts.js';
import {
  DAY_MS, cumulativeByDay, dayMs, daysBetween, fmtCents, fmtExact, fmtInt, fmtPct, fmtPctPico, forecastMonthEnd,
  groupRows, isoDay, monthStart, nextMonthStart, presetRange, toNumber, toPico, topByCost, totalsOf,
} from './data.js';

const TOKEN_KEY = 'tollgate.adminToken';
const MAX_SERIES = 8;
const $ = (sel) => document.querySelector(sel);

const state = { tenants: new Map(), split: 'tenant', report: null, mtd: null, range: null, now: 0 };

class AuthError extends Error {}

async function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const res = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
  if (res.status === 401 || res.status === 403) throw new AuthError('The admin token was refused.');
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    throw new Error(body?.error?.message ?? `${path}: HTTP ${res.status}`);
  }
  return res;
}

function tenantName(id) {
  return state.tenants.get(id)?.name ?? id ?? '(none)';
}

function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function fillRows(tbody, rows) {
  tbody.replaceChildren(...rows.map((cells) => {
    const tr = el('tr');
    for (const c of cells) tr.append(typeof c === 'object' && c !== null ? el('td', c.text, c.attrs) : el('td', String(c)));
    return tr;
  }));
}

/** A money cell: the exact amount, with its pico-USD integer in data-pico for anyone (or any test) checking. */
function money(pico) {
  return { text: fmtExact(pico), attrs: { 'data-pico': pico.toString() } };
}

// ---------------- sign in ----------------

function showLogin(message = '') {
  $('#login').hidden = false;
  $('#app').hidden = true;
  $('#controls').hidden = true;
  $('#login-error').textContent = message;
}

async function signIn(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    await loadTenants();
  } catch (e) {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin(e instanceof AuthError ? 'That admin token was refused.' : e.message);
    return;
  }
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#controls').hidden = false;
  setRange(presetRange('mtd', Date.now()));
  await refresh();
}

async function loadTenants() {
  const body = await (await api('/admin/tenants')).json();
  state.tenants = new Map(body.data.map((t) => [t.id, t]));
  const opts = [el('option', 'All tenants', { value: '' })];
  for (const t of [...state.tenants.values()].sort((a, b) => a.name.localeCompare(b.name))) opts.push(el('option', t.name, { value: t.id }));
  $('#tenant').replaceChildren(...opts);
}

// ---------------- data ----------------

function setRange({ from, to }) {
  $('#from').value = from;
  $('#to').value = to;
}

function spendUrl(range, groupBy, format = 'json') {
  const q = new URLSearchParams({ from: range.from, to: range.to, group_by: groupBy, format });
  if (range.tenant) q.set('tenant', range.tenant);
  return `/admin/spend?${q}`;
}

async function refresh() {
  const range = { from: $('#from').value, to: $('#to').value, tenant: $('#tenant').value };
  const banner = $('#banner');
  banner.hidden = true;
  if (!range.from || !range.to || range.from > range.to) {
    banner.textContent = 'Pick a start date on or before the end date.';
    banner.hidden = false;
    return;
  }
  state.now = Date.now();
  const mtdRange = { from: isoDay(monthStart(state.now)), to: isoDay(state.now), tenant: range.tenant };
  document.body.dataset.state = 'loading';
  try {
    const [report, mtd] = await Promise.all([
      api(spendUrl(range, 'day,tenant,provider,model')).then((r) => r.json()),
      api(spendUrl(mtdRange, 'day,tenant')).then((r) => r.json()),
    ]);
    Object.assign(state, { report, mtd, range });
    render();
    document.body.dataset.state = 'ready';
  } catch (e) {
    if (e instanceof AuthError) return showLogin('Your session expired: sign in again.');
    banner.textContent = `Could not load spend: ${e.message}`;
    banner.hidden = false;
    document.body.dataset.state = 'error';
  }
}

// ---------------- rendering ----------------

function render() {
  const { report, range } = state;
  const who = range.tenant ? tenantName(range.tenant) : 'all tenants';
  $('#range-label').textContent = `${range.from} to ${range.to} (UTC, inclusive) · ${who}`;
  renderKpis(totalsOf(report.totals), report.totals);
  renderSpendChart();
  renderSavings(report);
  renderBudgets();
  renderTops(report.rows);
  renderProviders(report.rows);
}

function setKpi(name, text, exact) {
  const out = document.querySelector(`[data-kpi="${name}"]`);
  // Exact amounts keep every decimal; the digits past the cents are dimmed so that the eye reads dollars and cents.
  const m = /^([^.]*\.\d{2})(\d+)$/.exec(text);
  if (m) out.replaceChildren(el('span', m[1]), el('span', m[2], { class: 'sub-cent' }));
  else out.textContent = text;
  if (exact !== undefined) out.dataset.exact = exact;
}

function renderKpis(t, raw) {
  setKpi('cost', fmtExact(t.cost), raw.cost_usd);
  setKpi('baseline', fmtExact(t.baseline), raw.baseline_cost_usd);
  setKpi('saved', fmtExact(t.saved), raw.saved_usd);
  setKpi('saved-pct', t.baseline > 0n ? `${fmtPctPico(t.saved, t.baseline)} of baseline` : '');
  setKpi('requests', fmtInt(t.requests), String(raw.requests));
  setKpi('tokens', `${fmtInt(t.tokens)} tokens`);
  setKpi('error-rate', fmtPct(t.errors, t.requests));
  setKpi('errors', `${fmtInt(t.errors)} errors`, String(raw.errors));
  // Fallback counts show only when the spend API reports them (older servers do not).
  $('#kpi-fallbacks').hidden = t.fallbacks === null;
  $('#providers').classList.toggle('no-fallbacks', t.fallbacks === null);
  $('#providers-title').textContent = t.fallbacks === null ? 'Errors by provider' : 'Errors and fallbacks by provider';
  setKpi('fallback-rate', t.fallbacks === null ? '' : fmtPct(t.fallbacks, t.requests));
  setKpi('fallbacks', t.fallbacks === null ? '' : `${fmtInt(t.fallbacks)} fallbacks`);
  setKpi('cache-rate', fmtPct(t.cacheHits, t.requests));
  setKpi('cache-hits', `${fmtInt(t.cacheHits)} answered from cache`);
}

function xDays() {
  const days = daysBetween(state.range.from, state.range.to);
  return { days, x: days.map((d) => dayMs(d) / 1000) };
}

function renderSpendChart() {
  const split = state.split;
  const rows = state.report.rows;
  const label = (r) => (split === 'tenant' ? tenantName(r.tenant) : r[split]);
  const ranked = topByCost(groupRows(rows, label)).map(([k]) => k);
  const shown = new Set(ranked.slice(0, MAX_SERIES));
  const byKeyDay = groupRows(rows, (r) => `${shown.has(label(r)) ? label(r) : 'other'}\u0000${r.day}`);
  const { days, x } = xDays();
  const keys = [...shown, ...(ranked.length > MAX_SERIES ? ['other'] : [])];
  const series = keys.map((k, i) => ({
    label: k,
    color: palette[i % palette.length],
    values: days.map((d) => toNumber(byKeyDay.get(`${k}\u0000${d}`)?.cost ?? 0n)),
  }));
  drawTimeChart($('#chart-spend'), { x, series });
}

function renderSavings(report) {
  const byDay = groupRows(report.rows, (r) => r.day);
  const { days, x } = xDays();
  const pick = (f) => days.map((d) => toNumber(byDay.has(d) ? f(byDay.get(d)) : 0n));
  drawTimeChart($('#chart-savings'), {
    x,
    series: [
      { label: 'Baseline', values: pick((t) => t.baseline), color: '#9ca3af', dash: [6, 4] },
      { label: 'Actual', values: pick((t) => t.cost), color: '#2563eb', fill: 'rgba(37,99,235,0.08)' },
    ],
  });
  const t = totalsOf(report.totals);
  fillRows($('#savings-table tbody'), [
    ['Routing to cheaper models', money(t.modelChoice)],
    ['Provider prompt cache', money(t.promptCache)],
    ['Off-peak tariffs', money(t.offPeak)],
    ['Response cache', money(t.responseCache)],
    [{ text: 'Total saved', attrs: { class: 'strong' } }, money(t.saved)],
  ]);
}

function monthlyLimit(tenant) {
  const limit = tenant?.policy?.budgets?.monthly?.limit_usd;
  return limit === undefined || limit === null ? null : toPico(String(limit));
}

function renderBudgets() {
  const now = state.now;
  const monthName = new Date(now).toLocaleString('en', { month: 'long', year: 'numeric', timeZone: 'UTC' });
  $('#burn-month').textContent = `· ${monthName}`;
  const mtdByTenant = groupRows(state.mtd.rows, (r) => r.tenant);
  const budgeted = [...state.tenants.values()].filter((t) => monthlyLimit(t) !== null && (!state.range.tenant || t.id === state.range.tenant));
  fillRows($('#budget-table tbody'), budgeted.map((t) => {
    const limit = monthlyLimit(t);
    const spent = mtdByTenant.get(t.id)?.cost ?? 0n;
    const forecast = forecastMonthEnd(spent, now);
    const over = forecast > limit;
    return [
      { text: t.name, attrs: { 'data-tenant': t.id } },
      money(limit),
      money(spent),
      { text: fmtCents(forecast), attrs: { 'data-pico': forecast.toString(), class: over ? 'bad' : 'ok' } },
      { text: fmtPctPico(forecast, limit), attrs: { class: over ? 'bad' : 'ok' } },
    ];
  }));
  const select = $('#burn-tenant');
  const previous = select.value;
  select.replaceChildren(...budgeted.map((t) => el('option', t.name, { value: t.id })));
  if (budgeted.some((t) => t.id === previous)) select.value = previous;
  drawBurn(select.value);
}

function drawBurn(tenantId) {
  const chartEl = $('#chart-burn');
  const tenant = state.tenants.get(tenantId);
  if (!tenant) {
    drawTimeChart(chartEl, { x: [], series: [] }, 'No tenant in view has a monthly budget.');
    return;
  }
  const now = state.now;
  const limit = monthlyLimit(tenant);
  const cum = cumulativeByDay(state.mtd.rows.filter((r) => r.tenant === tenantId), now);
  const start = monthStart(now);
  const days = daysBetween(isoDay(start), isoDay(nextMonthStart(now) - DAY_MS));
  const spent = cum.length ? cum[cum.length - 1].cumulative : 0n;
  const today = isoDay(now);
  const forecastAt = (d) => (spent * BigInt(Math.min(dayMs(d) + DAY_MS, nextMonthStart(now)) - start)) / BigInt(Math.max(1, now - start));
  drawTimeChart(chartEl, {
    x: days.map((d) => dayMs(d) / 1000),
    series: [
      { label: 'Spent', values: days.map((d) => (d <= today ? toNumber(cum.find((c) => c.day === d)?.cumulative ?? 0n) : null)), color: '#2563eb', fill: 'rgba(37,99,235,0.08)' },
      { label: 'Forecast', values: days.map((d) => (d >= today ? toNumber(forecastAt(d)) : null)), color: '#ea580c', dash: [6, 4] },
      { label: 'Budget', values: days.map(() => toNumber(limit)), color: '#dc2626' },
    ],
  });
}

function renderTops(rows) {
  const total = totalsOf(state.report.totals).cost;
  const models = topByCost(groupRows(rows, (r) => `${r.provider ?? ''}\u0000${r.model ?? '(none)'}`)).slice(0, 10);
  fillRows($('#top-models tbody'), models.map(([k, t]) => {
    const [provider, model] = k.split('\u0000');
    return [model, provider, money(t.cost), fmtPctPico(t.cost, total), fmtInt(t.requests), fmtPct(t.errors, t.requests)];
  }));
  const tenants = topByCost(groupRows(rows, (r) => r.tenant)).slice(0, 10);
  fillRows($('#top-tenants tbody'), tenants.map(([id, t]) => [
    { text: tenantName(id), attrs: { 'data-tenant': id } }, money(t.cost), money(t.saved), fmtPctPico(t.cost, total), fmtInt(t.requests), fmtPct(t.errors, t.requests),
  ]));
}

function renderProviders(rows) {
  const providers = topByCost(groupRows(rows, (r) => r.provider ?? '(none)'));
  fillRows($('#providers tbody'), providers.map(([p, t]) => [
    p, fmtInt(t.requests), fmtInt(t.errors), fmtPct(t.errors, t.requests),
    t.fallbacks === null ? 'n/a' : fmtInt(t.fallbacks), t.fallbacks === null ? 'n/a' : fmtPct(t.fallbacks, t.requests), money(t.cost),
  ]));
}

async function downloadCsv() {
  const range = { from: $('#from').value, to: $('#to').value, tenant: $('#tenant').value };
  try {
    const res = await api(spendUrl(range, 'day,tenant,provider,model', 'csv'));
    const blob = await res.blob();
    const a = el('a', '', { href: URL.createObjectURL(blob), download: `tollgate-spend-${range.from}-${range.to}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  } catch (e) {
    if (e instanceof AuthError) return showLogin('Your session expired: sign in again.');
    $('#banner').textContent = `Could not download CSV: ${e.message}`;
    $('#banner').hidden = false;
  }
}

// ---------------- wiring ----------------

$('#login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void signIn($('#token').value.trim());
});
$('#logout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin();
});
$('#apply').addEventListener('click', () => void refresh());
$('#tenant').addEventListener('change', () => void refresh());
$('#csv').addEventListener('click', () => void downloadCsv());
$('#burn-tenant').addEventListener('change', (ev) => drawBurn(ev.target.value));
for (const b of document.querySelectorAll('[data-preset]')) {
  b.addEventListener('click', () => {
    setRange(presetRange(b.dataset.preset, Date.now()));
    void refresh();
  });
}
for (const b of document.querySelectorAll('[data-split]')) {
  b.addEventListener('click', () => {
    state.split = b.dataset.split;
    for (const o of document.querySelectorAll('[data-split]')) o.classList.toggle('on', o === b);
    if (state.report) renderSpendChart();
  });
}

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) void signIn(saved);
else showLogin();
