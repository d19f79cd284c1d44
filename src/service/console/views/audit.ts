export const LEAK_TABLE = String.raw`<table class="data">
  <caption class="visually-hidden">Seat leaks</caption>
  <thead><tr><th scope="col">Username</th><th scope="col">Directory</th><th scope="col">Customer groups</th><th scope="col">Licensed groups</th><th scope="col">Outcome</th><th scope="col">Group paths</th></tr></thead>
  <tbody>
  <% for (const l of it.leaks) { %><tr><th scope="row"><%= l.username %></th><td><%= l.directoryId %></td><td><%= l.customerGroups.join(', ') %></td><td><%= l.licensedGroups.join(', ') %></td><td><%= l.outcome %></td>
  <td><a href="/console/customers/<%= encodeURIComponent(l.directoryId + ':' + l.externalId) %>?explain=1#explain">explain <%= l.username %></a></td></tr><% } %>
  </tbody>
</table>
`;

export const AUDIT = String.raw`<% layout('@layout') %>
<% const a = it.audit; %>
<p class="tile status-<%= a.status %>">Overall: <strong><%= a.status %></strong> (generated <%= a.generatedAt %>)<% if (a.stale) { %> <strong>STALE: Jira could not be read now</strong><% } %></p>
<p class="downloads">Download for your files: <a href="/console/audit.csv" download>CSV</a> · <a href="/console/audit.json" download>JSON</a> (the same report as <code>dirbridge audit seats --csv</code> and <code>--json</code>)</p>
<section aria-labelledby="v1" class="card"><h2 id="v1">1. Config: <span class="status-<%= a.config.status %>"><%= a.config.status %></span></h2>
<p>No customer default group is a licensed group. Customer groups: <%= a.config.customerGroups.join(', ') || '—' %>. Licensed groups: <%= a.config.licensedGroups.join(', ') %>.</p></section>
<section aria-labelledby="v2" class="card"><h2 id="v2">2. Directories (<%= a.plan.source === 'last-run' ? 'last applied run ' + a.plan.runId : a.plan.source %>): <span class="status-<%= a.plan.status %>"><%= a.plan.status %></span></h2>
<p><%= a.plan.seatLeaks.length === 1 ? '1 directory user is' : a.plan.seatLeaks.length + ' directory users are' %> in a customer group and a licensed group.</p>
<% if (a.plan.seatLeaks.length > 0) { %><%~ include('@leakTable', { leaks: a.plan.seatLeaks }) %><% } %>
<% for (const w of a.plan.warnings) { %><p class="warning"><%= w.message %></p><% } %>
</section>
<section aria-labelledby="v3" class="card"><h2 id="v3">3. Store: <span class="status-<%= a.store.status %>"><%= a.store.status %></span></h2>
<p><%= it.plural(a.store.activeCustomers, 'active customer') %>; <%= a.store.licensedCustomers.length %> carr<%= a.store.licensedCustomers.length === 1 ? 'ies' : 'y' %> a licensed group.</p>
<% if (a.store.licensedCustomers.length > 0) { %><ul><% for (const c of a.store.licensedCustomers) { %><li><%= c.username %> (<%= c.directoryId %>): <%= c.groups.join(', ') %></li><% } %></ul><% } %>
</section>
<section aria-labelledby="v4" class="card"><h2 id="v4">4. After apply: <span class="status-<%= a.afterApply.status %>"><%= a.afterApply.status %></span></h2>
<p>The last applying run<% if (a.afterApply.runId) { %> (<a href="/console/runs/<%= encodeURIComponent(a.afterApply.runId) %>"><%= a.afterApply.runId %></a>)<% } %> re-checked the stored state: <%= a.afterApply.verification %>.</p>
</section>
<section aria-labelledby="v5" class="card"><h2 id="v5">Customers of every origin: <span class="status-<%= a.origins.status %>"><%= a.origins.status %></span></h2>
<table class="data"><caption class="visually-hidden">Customers by type and origin</caption><thead><tr><th scope="col">Type</th><th scope="col">Origin</th><th scope="col">State</th><th scope="col" class="num">Customers</th></tr></thead>
<tbody><% for (const c of a.origins.counts) { %><tr><td><%= c.accountType %></td><th scope="row"><%= c.origin %></th><td><%= c.active ? 'active' : 'inactive' %></td><td class="num"><%= c.count %></td></tr><% } %></tbody></table>
<% if (a.origins.leaks.length > 0) { %><ul><% for (const l of a.origins.leaks) { %><li><a href="/console/customers/<%= encodeURIComponent(l.key) %>"><%= l.key %></a> (<%= l.email %>, <%= l.origin %>) is the address of licensed user <%= l.licensedUser.username %> in <%= l.licensedUser.directoryId %> (<%= l.licensedUser.licensedGroups.join(', ') %>)</li><% } %></ul><% } %>
</section>
<% if (a.jira) { const j = a.jira; %>
<section aria-labelledby="v6" class="card"><h2 id="v6">5. Jira: <span class="status-<%= j.status %>"><%= j.status %></span></h2>
<p><% if (j.state === 'read') { %>Read now from <%= j.label ?? 'Jira' %>: <%= it.plural(j.applications.reduce((n, app) => n + (app.customers ? app.customers.length : 0), 0), 'active customer') %> counted as application users.<% } else if (j.state === 'stale') { %><strong>STALE, unproven.</strong><% } else { %>This Jira has no application roles.<% } %><% if (j.readAt) { %> Seat figures read <%= j.readAt %>.<% } %></p>
<% if (j.note) { %><p class="warning"><%= j.note %></p><% } %>
<table class="data"><caption class="visually-hidden">Jira applications, their seats and the customers they count</caption>
<thead><tr><th scope="col">Application</th><th scope="col">Access groups</th><th scope="col">Default groups</th><th scope="col" class="num">Seats</th><th scope="col" class="num">Used</th><th scope="col" class="num">Remaining</th><th scope="col">Customers counted as users</th></tr></thead>
<tbody><% for (const app of j.applications) { const s = app.seats; %><tr><th scope="row"><%= app.name %> (<%= app.key %>)</th><td><%= app.groups.join(', ') || '—' %></td><td><%= app.defaultGroups.join(', ') || '—' %></td>
<td class="num"><%= s.hasUnlimitedSeats ? 'unlimited' : (s.numberOfSeats ?? '') %></td><td class="num"><%= s.userCount ?? '' %></td><td class="num"><%= s.hasUnlimitedSeats ? '' : (s.remainingSeats ?? '') %></td>
<td><% if (app.customers === null) { %>unknown<% } else if (app.customers.length === 0) { %>none<% } else { %><ul><% for (const c of app.customers) { %><li><a href="/console/customers/<%= encodeURIComponent(c.directoryId + ':' + c.externalId) %>"><%= c.username %></a> (<%= c.directoryId %>) via <%= c.via.join(', ') %></li><% } %></ul><% } %></td></tr><% } %></tbody></table>
</section>
<% } %>
<h2>History</h2>
<%~ it.chart %>
`;

export const DIRECTORIES = String.raw`<% layout('@layout') %>
<table class="data">
  <caption class="visually-hidden">Directories in precedence order</caption>
  <thead><tr><th scope="col">Directory</th><th scope="col">Type</th><th scope="col">Last read</th><th scope="col" class="num">Users</th><th scope="col" class="num">Groups</th><th scope="col">Last success</th><th scope="col">Lease holder</th><% if (it.admin) { %><th scope="col">Test</th><% } %></tr></thead>
  <tbody>
  <% for (const d of it.directories) { %>
  <tr><th scope="row"><%= d.id %></th><td><%= d.type %></td>
  <td><% if (d.lastRead) { %><%= d.lastRead.status %>, <a href="/console/runs/<%= encodeURIComponent(d.lastRead.runId) %>"><%= d.lastRead.at %></a><% if (d.lastRead.note) { %><br><span class="muted"><%= d.lastRead.note %></span><% } %><% } else { %>never<% } %></td>
  <td class="num"><%= d.lastRead && d.lastRead.users !== null ? d.lastRead.users : '' %></td><td class="num"><%= d.lastRead && d.lastRead.groups !== null ? d.lastRead.groups : '' %></td>
  <td><%= d.lastSuccess ? (d.lastSuccess.at ?? '') + ' (' + d.lastSuccess.users + ' users)' : 'never' %></td>
  <td><%= d.lease ? d.lease.holder + ' until ' + d.lease.until : 'free' %></td>
  <% if (it.admin) { %><td><form method="post" action="/console/directories/<%= encodeURIComponent(d.id) %>/test" class="inline"><input type="hidden" name="_csrf" value="<%= it.csrf %>"><button type="submit">Test connection<span class="visually-hidden"> to <%= d.id %></span></button></form></td><% } %>
  </tr>
  <% } %>
  </tbody>
</table>
<% if (it.test) { %>
<section class="card" aria-labelledby="test"><h2 id="test">Test of <%= it.test.id %></h2>
<% if (it.test.error) { %><p class="flash error" role="alert"><%= it.test.error %></p><% } else { const t = it.test.result; %>
<p role="status">OK: <%= t.users %> users, <%= t.groups %> groups<%= t.partial ? ' (first page of each search)' : ' (read whole, as a sync reads it)' %>.</p>
<% if (t.unresolvedMembers) { const u = t.unresolvedMembers; %><% if (u.length === 0) { %><p>Member references: all resolved.</p><% } else { %>
<p class="warning">Member references that match no user or group read (<%= it.plural(u.length, 'group') %>):</p>
<ul class="unresolved"><% for (const g of u.slice(0, 25)) { %><li><%= g.group %>: <%= g.count %> member reference<%= g.count === 1 ? ' matches' : 's match' %> no user or group read (e.g. <%= g.examples.join(', ') %>) <span class="muted">[<%= g.groupId %>]</span></li><% } %>
<% if (u.length > 25) { %><li>… and <%= u.length - 25 %> more groups (<code>dirbridge directories test <%= it.test.id %> --json</code> lists them all)</li><% } %></ul><% } %><% } %>
<% if (t.writes) { %><p>Writes: <%= t.writes.writes %> (<%= t.writes.detail %>)</p><% } %>
<h3>Mapping</h3><dl class="facts"><% for (const [k, v] of Object.entries(t.mapping)) { %><dt><%= k %></dt><dd><%= v %></dd><% } %></dl>
<% if (t.sampleUser) { %><h3>Sample user</h3><pre><%= JSON.stringify(t.sampleUser, null, 2) %></pre><% } %>
<% } %>
</section>
<% } %>
`;
