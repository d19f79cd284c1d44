/** "1 customer", "2 customers": a count with its noun. */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/**
 * A run's or plan's message as the console shows it: the CLI's instruction ("re-run with
 * --allow-deactivations N") is left out, since in the console the held plan is reviewed and approved
 * (the page links it).
 */
export function forConsole(message: string): string {
  return message.replace(/[.;,]?\s*Review (?:it|them), then (?:re-run|run a full sync) with --allow-deactivations \d+/g, '');
}

/** The page frame: skip link, navigation, who is signed in, sign-out form, one h1 per page. */
export const LAYOUT = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title><%= it.title %> · dirbridge console</title>
<link rel="stylesheet" href="/console/assets/console.css">
<link rel="icon" href="data:,">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <span class="brand">dirbridge</span>
  <% if (it.user) { %>
  <nav aria-label="Console">
    <ul>
      <% for (const [href, label, key] of it.nav) { %>
      <li><a href="<%= href %>"<% if (key === it.section) { %> aria-current="page"<% } %>><%= label %></a></li>
      <% } %>
    </ul>
  </nav>
  <div class="who">
    <span><%= it.user.username %> <span class="role">(<%= it.user.role %>)</span></span>
    <% if (it.user.via === 'password') { %>
    <form method="post" action="/console/logout" class="inline">
      <input type="hidden" name="_csrf" value="<%= it.csrf %>">
      <button type="submit" class="link">Sign out</button>
    </form>
    <% } %>
  </div>
  <% } %>
</header>
<main id="main" tabindex="-1">
<h1><%= it.title %></h1>
<% if (it.flash) { %><p class="flash <%= it.flash.kind %>" role="<%= it.flash.kind === 'error' ? 'alert' : 'status' %>"><%= it.flash.text %></p><% } %>
<%~ it.body %>
</main>
<script src="/console/assets/chart.umd.js" defer></script>
<script src="/console/assets/console.js" defer></script>
</body>
</html>
`;

export const LOGIN = String.raw`<% layout('@layout') %>
<form method="post" action="/console/login" class="card narrow">
  <input type="hidden" name="_csrf" value="<%= it.csrf %>">
  <input type="hidden" name="next" value="<%= it.next %>">
  <p><label for="username">Username</label><input id="username" name="username" autocomplete="username" required value="<%= it.username %>"></p>
  <p><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required></p>
  <p><button type="submit">Sign in</button></p>
</form>
`;

export const ERROR = String.raw`<% layout('@layout') %>
<p><%= it.message %></p>
<p><% if (it.user) { %><a href="/console/">Back to the dashboard</a><% } else { %><a href="/console/login">Sign in</a><% } %></p>
`;

/**
 * A table of numbers that console.js turns into a chart (the table stays, for readers without JavaScript).
 * A series given as `{ name, axis: 'right' }` is drawn against a second y-axis on the right (titled
 * `rightAxis`), so that counts of very different sizes each stay readable; `leftAxis` titles the other.
 */
export const CHART = String.raw`<figure class="chart">
  <figcaption><%= it.caption %></figcaption>
  <div class="chart-canvas" data-chart-for="<%= it.id %>"></div>
  <table id="<%= it.id %>" data-chart="<%= it.kind %>"<% if (it.leftAxis) { %> data-y-title="<%= it.leftAxis %>"<% } %><% if (it.rightAxis) { %> data-y1-title="<%= it.rightAxis %>"<% } %>>
    <caption class="visually-hidden"><%= it.caption %> (data)</caption>
    <thead><tr><th scope="col"><%= it.xLabel %></th><% for (const s of it.series) { %><% if (typeof s === 'string') { %><th scope="col"><%= s %></th><% } else { %><th scope="col"<% if (s.axis === 'right') { %> data-axis="y1"<% } %>><%= s.name %></th><% } %><% } %></tr></thead>
    <tbody>
    <% for (const row of it.rows) { %><tr><th scope="row"><%= row.label %></th><% for (const v of row.values) { %><td><%= v %></td><% } %></tr><% } %>
    </tbody>
  </table>
</figure>
`;
