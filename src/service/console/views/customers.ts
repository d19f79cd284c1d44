export const CUSTOMERS = String.raw`<% layout('@layout') %>
<form method="get" action="/console/customers" class="filters" role="search">
  <p><label for="search">Search</label><input id="search" name="search" type="search" value="<%= it.q.search %>" placeholder="name, username or e-mail"></p>
  <p><label for="type">Type</label><select id="type" name="type"><option value="">any</option><% for (const t of ['portal-only','account']) { %><option<% if (it.q.type === t) { %> selected<% } %>><%= t %></option><% } %></select></p>
  <p><label for="origin">Origin</label><input id="origin" name="origin" value="<%= it.q.origin %>" list="origins" size="12"><datalist id="origins"><% for (const o of it.origins) { %><option value="<%= o %>"><% } %></datalist></p>
  <p><label for="group">Default group</label><input id="group" name="group" value="<%= it.q.group %>" size="14"></p>
  <p><label for="state">State</label><select id="state" name="state"><% for (const s of ['active','inactive','all']) { %><option<% if (it.q.state === s) { %> selected<% } %>><%= s %></option><% } %></select></p>
  <p><label for="sort">Sort by</label><select id="sort" name="sort"><option value="username"<% if (it.q.sort !== 'open-requests') { %> selected<% } %>>username</option><option value="open-requests"<% if (it.q.sort === 'open-requests') { %> selected<% } %>>open requests</option></select></p>
  <p class="check"><input id="needsMigration" name="needsMigration" type="checkbox" value="true"<% if (it.q.needsMigration) { %> checked<% } %>><label for="needsMigration">Needs migration</label></p>
  <p><button type="submit">Search</button></p>
</form>
<% if (it.admin) { %><p><a class="button" href="/console/customers/invite">Invite customers</a></p><% } %>
<table class="data">
  <caption><%= it.plural(it.page.total, 'customer') %><% if (it.pages > 1) { %>, page <%= it.page.page %> of <%= it.pages %><% } %></caption>
  <thead><tr><th scope="col">Username</th><th scope="col">Name</th><th scope="col">E-mail</th><th scope="col">Type</th><th scope="col">Origin</th><th scope="col" class="num">Open requests</th><th scope="col" class="num">Closed requests</th><th scope="col">State</th></tr></thead>
  <tbody>
  <% for (const c of it.page.items) { %>
    <tr>
      <th scope="row"><a href="/console/customers/<%= encodeURIComponent(c.key) %>"><%= c.username %></a></th>
      <td><%= c.displayName ?? '' %></td><td><%= c.email ?? '' %></td><td><%= c.accountType %></td><td><%= c.origin %></td>
      <td class="num"><%= c.openRequests %></td><td class="num"><%= c.closedRequests %></td>
      <td><%= c.active ? 'active' : 'inactive (' + (c.deactivatedReason ?? '') + ')' %><% if (c.needsMigrationTo) { %> <span class="tag">needs migration</span><% } %></td>
    </tr>
  <% } %>
  <% if (it.page.items.length === 0) { %><tr><td colspan="8">No customer matches.</td></tr><% } %>
  </tbody>
</table>
<nav aria-label="Pages" class="pager">
  <% if (it.prev) { %><a href="<%= it.prev %>" rel="prev">Previous page</a><% } %>
  <% if (it.next) { %><a href="<%= it.next %>" rel="next">Next page</a><% } %>
</nav>
`;

export const CUSTOMER = String.raw`<% layout('@layout') %>
<% for (const d of it.details) { const c = d.customer; %>
<section class="card" aria-labelledby="c-<%= c.key %>">
  <h2 id="c-<%= c.key %>"><%= c.displayName ?? c.username %> <span class="muted"><%= c.key %></span></h2>
  <dl class="facts">
    <dt>Username</dt><dd><%= c.username %></dd>
    <dt>E-mail</dt><dd><%= c.email ?? '—' %></dd>
    <dt>Type</dt><dd><%= c.accountType %></dd>
    <dt>Origin</dt><dd><%= c.origin %></dd>
    <dt>State</dt><dd><%= c.active ? 'active' : 'inactive (' + (c.deactivatedReason ?? '') + ')' %></dd>
    <dt>Requests</dt><dd><%= c.openRequests %> open, <%= c.closedRequests %> closed</dd>
    <% if (c.location) { %><dt>Entry</dt><dd><%= c.location %></dd><% } %>
    <dt>Groups</dt><dd><%= c.groups.join(', ') || '—' %></dd>
    <% if (c.needsMigrationTo) { %><dt>Needs migration</dt><dd>an account has this address: <a href="/console/customers/<%= encodeURIComponent(c.needsMigrationTo) %>"><%= c.needsMigrationTo %></a></dd><% } %>
    <% if (c.successorKey) { %><dt>Migrated to</dt><dd><a href="/console/customers/<%= encodeURIComponent(c.successorKey) %>"><%= c.successorKey %></a></dd><% } %>
    <% if (c.invitation) { const i = c.invitation; %><dt>Invitation</dt><dd><%= i.status === 'sent' ? 'e-mailed' + (i.sentAt ? ' ' + i.sentAt : '') : i.status === 'unsent' ? 'NOT SENT' : 'link for another mailer' %> (<%= it.plural(i.attempts, 'attempt') %>)<% if (i.lastError) { %>: <%= i.lastError %><% } %>
      <br>Link: <a class="invitation-link" href="<%= i.link %>"><%= i.link %></a></dd><% } %>
  </dl>
  <% if (it.admin) { %>
  <div class="actions">
    <% if (c.invitation && c.active) { %>
    <form method="post" action="/console/customers/<%= encodeURIComponent(c.key) %>/resend" class="inline">
      <input type="hidden" name="_csrf" value="<%= it.csrf %>"><button type="submit">Resend the invitation</button>
    </form>
    <% } %>
    <% if (c.accountType === 'portal-only' && c.active) { %><a class="button" href="/console/customers/<%= encodeURIComponent(c.key) %>/migrate">Migrate to an account…</a><% } %>
  </div>
  <% } %>
  <h3>History</h3>
  <table class="data">
    <caption class="visually-hidden">History of <%= c.key %></caption>
    <thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">By</th><th scope="col">Run</th><th scope="col">Detail</th></tr></thead>
    <tbody>
    <% for (const e of d.history) { %>
      <tr><td><time datetime="<%= e.at %>"><%= e.at %></time></td><td><%= e.kind %></td><td><%= e.actor %></td>
      <td><% if (e.runId) { %><a href="/console/runs/<%= encodeURIComponent(e.runId) %>"><%= e.runId %></a><% } %></td>
      <td><%= e.detail === null ? '' : JSON.stringify(e.detail) %></td></tr>
    <% } %>
    </tbody>
  </table>
</section>
<% } %>
<% if (it.explainable) { %>
<section class="card" aria-labelledby="explain">
  <h2 id="explain">Why is this a customer?</h2>
  <% if (!it.explain) { %>
  <form method="get" action="" class="inline">
    <input type="hidden" name="explain" value="1">
    <button type="submit">Explain now (reads the directories)</button>
  </form>
  <% } else { const x = it.explain.explanation; %>
  <p class="verdict <%= x.verdict %>"><strong><%= x.verdict %></strong>: <%= x.reason %></p>
  <% for (const copy of x.copies) { %>
  <h3>In <%= copy.directoryId %>: <%= copy.username %><% if (copy.disabled) { %> (disabled)<% } %></h3>
  <% if (copy.shadowedBy) { %><p>Shadowed by <%= copy.shadowedBy %>.</p><% } %>
  <% if (copy.location) { %><p class="muted"><%= copy.location %></p><% } %>
  <% if (copy.allUsers) { %><p>The directory admits all its users.</p><% } %>
  <ul class="paths">
    <% for (const p of copy.customerPaths) { %><li>Customer group <strong><%= p.label %></strong>: <%= p.path.join(' → ') %></li><% } %>
    <% for (const p of copy.licensedPaths) { %><li class="conflict">Licence conflict: licensed group <strong><%= p.label %></strong>: <%= p.path.join(' → ') %></li><% } %>
  </ul>
  <% } %>
  <% for (const w of x.warnings) { %><p class="warning"><%= w.message %></p><% } %>
  <% for (const f of it.explain.unreadDirectories) { %><p class="warning"><%= f.directoryId %> could not be read (<%= f.code %>); the explanation leaves it out.</p><% } %>
  <% } %>
</section>
<% } %>
`;

export const INVITE = String.raw`<% layout('@layout') %>
<form method="post" action="/console/customers/invite" class="card">
  <input type="hidden" name="_csrf" value="<%= it.csrf %>">
  <p><label for="addresses">E-mail addresses (one per line)</label><textarea id="addresses" name="addresses" rows="5" required><%= it.addresses %></textarea></p>
  <p><label for="name">Display name (only when inviting a single address)</label><input id="name" name="name" value="<%= it.name %>"></p>
  <p><button type="submit">Invite</button></p>
</form>
<% if (it.results) { %>
<table class="data">
  <caption>Invitations</caption>
  <thead><tr><th scope="col">Address</th><th scope="col">Outcome</th><th scope="col">Detail</th></tr></thead>
  <tbody>
  <% for (const r of it.results) { %>
    <tr class="<%= r.outcome %>"><th scope="row"><%= r.address %></th><td><%= r.outcome %></td>
    <td><% if (r.outcome === 'invited') { %><a href="/console/customers/<%= encodeURIComponent(r.key) %>"><%= r.key %></a>:
      <% if (r.delivery === 'sent') { %>invitation e-mailed<% } else if (r.delivery === 'unsent') { %>invited, but the e-mail was NOT sent<% if (r.error) { %> (<%= r.error %>)<% } %>; resend it from the customer's page<% } else { %>send this link: <a class="invitation-link" href="<%= r.link %>"><%= r.link %></a><% } %>
      <% if (r.seatLeak) { %><br><strong class="leak">seat leak reported: <%= r.address %> is <%= r.seatLeak.username %> in <%= r.seatLeak.directoryId %>, licensed via <%= r.seatLeak.licensedGroups.join(', ') %>; the customer carries no group</strong><% } %>
    <% } else if (r.outcome === 'refused') { %><%= r.code %>: <%= r.message %><% } else { %><%= r.message %><% } %></td></tr>
  <% } %>
  </tbody>
</table>
<% } %>
`;

export const MIGRATE = String.raw`<% layout('@layout') %>
<div class="card warning-box">
  <p><strong>A migration cannot be undone.</strong> The portal-only profile <strong><%= it.customer.key %></strong> (<%= it.customer.email ?? it.customer.username %>)
  is deactivated for good, its <%= it.customer.openRequests + it.customer.closedRequests %> requests move to the account, and the account gets a new key.
  The old profile can never be reactivated or migrated again.</p>
</div>
<form method="post" action="/console/customers/<%= encodeURIComponent(it.customer.key) %>/migrate" class="card">
  <input type="hidden" name="_csrf" value="<%= it.csrf %>">
  <p><label for="to">Account username (empty: <%= it.customer.needsMigrationTo ? 'the account flagged as having this address, ' + it.customer.needsMigrationTo : 'a new account of the same origin' %>)</label><input id="to" name="to" value=""></p>
  <p class="check"><input id="confirm" name="confirm" type="checkbox" value="yes" required><label for="confirm">I understand that this migration is irreversible</label></p>
  <p><button type="submit" class="danger">Migrate</button> <a href="/console/customers/<%= encodeURIComponent(it.customer.key) %>">Cancel</a></p>
</form>
`;
