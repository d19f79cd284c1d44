import type { HeldPlan } from '../../../engine/held-plans.js';

/**
 * How a held plan's page words its changes: what it would do while it waits, what it did once approved,
 * what it would have done once discarded, stale or superseded (nothing of it was applied).
 */
export function planWording(held: Pick<HeldPlan, 'status' | 'outcome'>): { readonly changes: string; readonly deactivations: string } {
  const notApplied = (why: string) => ({ changes: `Would have changed (${why})`, deactivations: 'Customers it would have deactivated' });
  switch (held.status) {
    case 'held':
      return { changes: 'Would change', deactivations: 'Customers it would deactivate' };
    case 'approved':
      if (held.outcome === 'applying') return { changes: 'Changing (being applied now)', deactivations: 'Customers it is deactivating' };
      if (held.outcome === 'success') return { changes: 'Changed', deactivations: 'Customers it deactivated' };
      return { changes: `Approved to change (its run ended ${held.outcome ?? 'unknown'}: the run's page shows what was written)`, deactivations: 'Customers it was approved to deactivate' };
    case 'discarded':
      return notApplied('discarded, not applied');
    case 'stale':
      return notApplied('not applied: the store had changed since');
    case 'superseded':
      return notApplied('not applied: superseded');
  }
}

export const DASHBOARD = String.raw`<% layout('@layout') %>
<div class="tiles">
  <p class="tile"><span class="big"><%= it.activeCustomers %></span> active <%= it.activeCustomers === 1 ? 'customer' : 'customers' %></p>
  <p class="tile"><span class="big"><%= it.held %></span> <%= it.held === 1 ? 'plan' : 'plans' %> held for approval<% if (it.held > 0) { %> — <a href="/console/plans">review</a><% } %></p>
  <p class="tile status-<%= it.auditStatus %>"><span class="big"><%= it.auditStatus %></span> seat audit — <a href="/console/audit">open</a></p>
</div>
<%~ it.charts %>
<h2>Last runs</h2>
<%~ include('@runTable', { runs: it.runs, held: it.heldIds, forConsole: it.forConsole }) %>
`;

export const RUN_TABLE = String.raw`<table class="data">
  <caption class="visually-hidden">Runs, newest first</caption>
  <thead><tr><th scope="col">Started</th><th scope="col">Run</th><th scope="col">Outcome</th><th scope="col">Trigger</th><th scope="col" class="num">Created</th><th scope="col" class="num">Updated</th><th scope="col" class="num">Reactivated</th><th scope="col" class="num">Deactivated</th><th scope="col" class="num">Withheld</th><th scope="col">Error</th></tr></thead>
  <tbody>
  <% for (const r of it.runs) { const s = r.summary; %>
    <tr><td><time datetime="<%= r.startedAt %>"><%= r.startedAt %></time></td>
    <th scope="row"><a href="/console/runs/<%= encodeURIComponent(r.runId) %>"><%= r.runId %></a></th>
    <td><span class="outcome <%= r.outcome %>"><%= r.outcome %></span></td><td><%= r.actor.trigger %></td>
    <td class="num"><%= s ? s.create : '' %></td><td class="num"><%= s ? s.update : '' %></td><td class="num"><%= s ? s.reactivate : '' %></td><td class="num"><%= s ? s.deactivate : '' %></td><td class="num"><%= s ? s.withheld : '' %></td>
    <td><%= r.error ? r.error.code + ': ' + it.forConsole(r.error.message) : '' %><% if (it.held.includes(r.runId)) { %> — <a href="/console/plans/<%= encodeURIComponent(r.runId) %>">review and approve the held plan</a><% } %></td></tr>
  <% } %>
  <% if (it.runs.length === 0) { %><tr><td colspan="10">No runs recorded yet.</td></tr><% } %>
  </tbody>
</table>
`;

export const RUNS = String.raw`<% layout('@layout') %>
<% if (it.admin) { %>
<form method="post" action="/console/runs" class="card filters">
  <input type="hidden" name="_csrf" value="<%= it.csrf %>">
  <p><label for="directory">Directory</label><select id="directory" name="directory"><option value="">every directory</option><% for (const d of it.directories) { %><option><%= d %></option><% } %></select></p>
  <p><label for="mode">Read</label><select id="mode" name="mode"><option>full</option><option>incremental</option></select></p>
  <p><button type="submit">Start a run now</button></p>
</form>
<% } %>
<%~ include('@runTable', { runs: it.runs, held: it.heldIds, forConsole: it.forConsole }) %>
`;

export const RUN = String.raw`<% layout('@layout') %>
<% const r = it.run; const s = r.summary; %>
<dl class="facts card">
  <dt>Outcome</dt><dd><span class="outcome <%= r.outcome %>"><%= r.outcome %></span></dd>
  <dt>Started</dt><dd><%= r.startedAt %></dd><dt>Finished</dt><dd><%= r.finishedAt %></dd>
  <dt>By</dt><dd><%= r.actor.trigger %> on <%= r.actor.host %> (pid <%= r.actor.pid %>)</dd>
  <dt>Written</dt><dd><%= r.written %></dd>
  <dt>Invariant re-check</dt><dd><%= ({ passed: 'passed: no customer carries a licensed group', failed: 'FAILED: a customer carries a licensed group', 'not-run': 'not run' + (r.written === 0 ? ' (nothing was written)' : '') })[r.verification] ?? r.verification %></dd>
  <% if (s) { %><dt>Changes</dt><dd><%= s.create %> created, <%= s.update %> updated, <%= s.reactivate %> reactivated, <%= s.deactivate %> deactivated, <%= s.withheld %> withheld, <%= s.unchanged %> unchanged, <%= it.plural(s.seatLeaks, 'seat leak') %>, <%= s.refused %> refused</dd><% } %>
  <% if (r.error) { %><dt>Error</dt><dd class="error"><%= r.error.code %>: <%= it.forConsole(r.error.message) %></dd><% } %>
</dl>
<h2>Directories read</h2>
<table class="data"><caption class="visually-hidden">Directories</caption>
<thead><tr><th scope="col">Directory</th><th scope="col">Read</th><th scope="col" class="num">Users</th><th scope="col" class="num">Groups</th><th scope="col">Note</th></tr></thead>
<tbody><% for (const d of r.directories) { %><tr><th scope="row"><%= d.directoryId %></th><td><%= d.status %></td><td class="num"><%= d.users ?? '' %></td><td class="num"><%= d.groups ?? '' %></td><td><%= d.note ?? '' %></td></tr><% } %></tbody></table>
<% if (s && s.withheld > 0) { %><h2>Withheld</h2><p><%= s.withheld === 1 ? '1 deactivation was' : s.withheld + ' deactivations were' %> withheld: <%= (r.directories.filter((d) => d.note).map((d) => d.directoryId + ': ' + d.note).join('; ')) || 'an incremental read deactivates only users its changes name' %>.</p><% } %>
<% for (const v of r.violations) { %><p class="warning">Rejected: <%= it.forConsole(v.message) %></p><% } %>
<% if (it.held) { const planLink = '/console/plans/' + encodeURIComponent(r.runId); %><p><% if (it.held.status === 'held') { %>Its plan is held for approval: <a href="<%= planLink %>">review the deactivations and approve the held plan</a> (or discard it).<% } else { %>Its plan was held for approval: <a href="<%= planLink %>">held plan, <%= it.held.status %></a>.<% } %></p><% } %>
<h2>What it changed</h2>
<table class="data">
  <caption><%= it.plural(it.totalEvents, 'change') %><% if (it.totalEvents > it.events.length) { %> (the first <%= it.events.length %> shown)<% } %></caption>
  <thead><tr><th scope="col">Change</th><th scope="col">Customer</th><th scope="col">Reason / detail</th></tr></thead>
  <tbody>
  <% for (const e of it.events) { %><tr><td><%= e.kind %></td><th scope="row"><a href="/console/customers/<%= encodeURIComponent(e.customerKey) %>"><%= it.usernames[e.customerKey] ?? e.customerKey %></a> <span class="muted"><%= e.customerKey %></span></th><td><%= e.detail === null ? '' : (e.detail.reason ?? JSON.stringify(e.detail)) %></td></tr><% } %>
  <% if (it.events.length === 0) { %><tr><td colspan="3">This run changed no customer.</td></tr><% } %>
  </tbody>
</table>
<% if (r.seatLeaks.length > 0) { %>
<h2>Seat leaks</h2>
<%~ include('@leakTable', { leaks: r.seatLeaks }) %>
<% } %>
`;

export const PLANS = String.raw`<% layout('@layout') %>
<p>A sync whose plan a safety rule rejected (too many deactivations, an empty read) keeps the plan here, and so does a sync that withheld deactivations after a suspect read (those deactivations alone). A newer plan supersedes those still waiting. An admin approves a plan (applied exactly as saved; refused if the store changed since) or discards it.</p>
<table class="data">
  <caption class="visually-hidden">Held plans, newest first</caption>
  <thead><tr><th scope="col">Plan (run)</th><th scope="col">Made</th><th scope="col">Status</th><th scope="col" class="num">Deactivations</th><th scope="col">Why it was held</th><th scope="col">Decided by</th><th scope="col">Outcome</th></tr></thead>
  <tbody>
  <% for (const p of it.plans) { %><tr><th scope="row"><a href="/console/plans/<%= encodeURIComponent(p.id) %>"><%= p.id %></a></th><td><%= p.createdAt %></td><td><%= p.status %></td><td class="num"><%= p.deactivations %></td><td><%= p.reasons.map((r) => it.forConsole(r)).join('; ') %></td><td><%= p.decidedBy ?? '' %><% if (p.decidedAt) { %> at <%= p.decidedAt %><% } %></td><td><%= p.outcome ?? '' %></td></tr><% } %>
  <% if (it.plans.length === 0) { %><tr><td colspan="7">No plan has been held.</td></tr><% } %>
  </tbody>
</table>
`;

export const PLAN = String.raw`<% layout('@layout') %>
<% const h = it.held; const s = h.plan.summary; %>
<dl class="facts card">
  <dt>Status</dt><dd><%= h.status %><% if (h.decidedBy) { %> by <%= h.decidedBy %> at <%= h.decidedAt %><% } %></dd>
  <% if (h.outcome) { %><dt>Outcome</dt><dd><%= h.outcome %><% if (h.appliedRunId) { %> (<a href="/console/runs/<%= encodeURIComponent(h.appliedRunId) %>"><%= h.appliedRunId %></a>)<% } %></dd><% } %>
  <dt>Made</dt><dd><%= h.createdAt %> by run <a href="/console/runs/<%= encodeURIComponent(h.id) %>"><%= h.id %></a>, store revision <%= h.storeRevision %></dd>
  <dt>Held because</dt><dd><ul><% for (const r of h.reasons) { %><li><%= it.forConsole(r) %></li><% } %></ul></dd>
  <dt><%= it.wording.changes %></dt><dd><%= s.create %> created, <%= s.update %> updated, <%= s.reactivate %> reactivated, <%= s.deactivate %> deactivated</dd>
</dl>
<% if (h.status === 'held') { %><p>Review the deactivations below, then approve this plan to apply them exactly as listed<% if (!it.admin) { %> (an admin approves it)<% } %>, or discard it.</p><% } %>
<% if (it.admin && h.status === 'held') { %>
<div class="actions card">
  <form method="post" action="/console/plans/<%= encodeURIComponent(h.id) %>/approve" class="inline">
    <input type="hidden" name="_csrf" value="<%= it.csrf %>">
    <p class="check"><input id="confirm" name="confirm" type="checkbox" value="yes" required><label for="confirm">I reviewed the <%= it.plural(it.deactivations.length, 'deactivation') %> below</label></p>
    <button type="submit" class="danger">Approve and apply</button>
  </form>
  <form method="post" action="/console/plans/<%= encodeURIComponent(h.id) %>/discard" class="inline">
    <input type="hidden" name="_csrf" value="<%= it.csrf %>">
    <button type="submit">Discard</button>
  </form>
</div>
<% } %>
<h2><%= it.wording.deactivations %></h2>
<table class="data">
  <caption><%= it.plural(it.deactivations.length, 'deactivation') %></caption>
  <thead><tr><th scope="col">Username</th><th scope="col">Directory</th><th scope="col">Why</th></tr></thead>
  <tbody>
  <% for (const d of it.deactivations) { %><tr><th scope="row"><a href="/console/customers/<%= encodeURIComponent(d.directoryId + ':' + d.externalId) %>"><%= d.username %></a></th><td><%= d.directoryId %></td><td><%= d.reason %></td></tr><% } %>
  </tbody>
</table>
`;
