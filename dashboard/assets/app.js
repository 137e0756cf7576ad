// tinyscale dashboard: fetches the admin API and renders the fleet, the
// load history and the meetings; refreshes by itself. No libraries.
(function () {
  'use strict';

  var body = document.body;
  var API = body.dataset.api;
  var REFRESH = parseInt(body.dataset.refresh, 10) || 5000;
  var CSRF = body.dataset.csrfHeader;
  var LOGIN = body.dataset.login;
  var SVGNS = 'http://www.w3.org/2000/svg';

  var state = {
    filter: '',        // server ID whose meetings are shown; '' for all
    history: {},       // server ID -> [{t, load, up}]
    latest: 0,         // newest history sample time (Unix seconds)
    windowSec: 3600,
    lastMeetings: null, // the last meetings list, to re-filter without a fetch
    serversKey: '',    // what the servers table shows, to skip needless re-renders
    meetingsKey: ''
  };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'text') e.textContent = attrs[k];
        else if (k === 'class') e.className = attrs[k];
        else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), attrs[k]);
        else e.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) {
      if (c == null) return;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }

  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }

  function api(method, path) {
    var headers = { 'Accept': 'application/json' };
    if (method !== 'GET') headers[CSRF] = '1';
    return fetch(API + path, { method: method, headers: headers, credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) {
        if (r.status === 401) {
          window.location.href = LOGIN;
          throw new Error('session expired');
        }
        return r.json().catch(function () { return null; }).then(function (data) {
          if (!r.ok) {
            var msg = data && data.error && data.error.message ? data.error.message : 'HTTP ' + r.status;
            throw new Error(msg);
          }
          return data;
        });
      });
  }

  function show(id, text) {
    var e = document.getElementById(id);
    e.textContent = text || '';
    e.hidden = !text;
  }

  var noticeTimer = null;
  function notice(text) {
    show('notice', text);
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { show('notice', ''); }, 6000);
  }

  function plural(n, one, many) { return n + ' ' + (n === 1 ? one : many); }

  function fmtLoad(v) { return (Math.round(v * 100) / 100).toFixed(2); }

  function fmtAgo(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    var s = Math.max(0, (Date.now() - d.getTime()) / 1000);
    if (s < 60) return 'just now';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return d.toLocaleString();
  }

  // ---- history ----

  function mergeHistory(h) {
    state.windowSec = h.window || 3600;
    if (h.latest) state.latest = Math.max(state.latest, h.latest);
    (h.servers || []).forEach(function (s) {
      var pts = state.history[s.id] || [];
      var last = pts.length ? pts[pts.length - 1].t : 0;
      s.points.forEach(function (p) { if (p.t > last) pts.push(p); });
      state.history[s.id] = pts;
    });
    var cutoff = state.latest - state.windowSec;
    Object.keys(state.history).forEach(function (id) {
      var pts = state.history[id];
      var i = 0;
      while (i < pts.length && pts[i].t < cutoff) i++;
      if (i) pts.splice(0, i);
      if (!pts.length) delete state.history[id];
    });
  }

  function maxLoad() {
    var m = 0;
    Object.keys(state.history).forEach(function (id) {
      state.history[id].forEach(function (p) { if (p.load > m) m = p.load; });
    });
    return m > 0 ? m : 1;
  }

  // sparkline draws one server's load over the window, on a scale shared
  // by all servers so that rows compare; down samples are marked red.
  function sparkline(id, scale) {
    var W = 140, H = 32, pad = 2;
    var pts = state.history[id] || [];
    var end = state.latest, start = end - state.windowSec;
    var s = svg('svg', { 'class': 'spark', viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img' });
    var peak = 0;
    pts.forEach(function (p) { if (p.load > peak) peak = p.load; });
    var label = pts.length ? 'load over the last hour, peak ' + fmtLoad(peak) : 'no samples yet';
    s.setAttribute('aria-label', label);
    var title = svg('title');
    title.textContent = label;
    s.appendChild(title);
    s.appendChild(svg('line', { 'class': 'base', x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5 }));
    if (!pts.length) return s;
    function x(t) { return ((t - start) / (state.windowSec || 1)) * W; }
    function y(v) { return H - pad - (v / scale) * (H - 2 * pad); }
    var line = pts.map(function (p) { return x(p.t).toFixed(1) + ',' + y(p.load).toFixed(1); });
    if (pts.length === 1) line.push((x(pts[0].t) + 1).toFixed(1) + ',' + y(pts[0].load).toFixed(1));
    var first = x(pts[0].t).toFixed(1), last = x(pts[pts.length - 1].t).toFixed(1);
    s.appendChild(svg('polygon', { 'class': 'area', points: first + ',' + H + ' ' + line.join(' ') + ' ' + last + ',' + H }));
    s.appendChild(svg('polyline', { 'class': 'line', points: line.join(' ') }));
    var step = Math.max(1, W / Math.max(1, state.windowSec / 10));
    pts.forEach(function (p) {
      if (!p.up) s.appendChild(svg('rect', { 'class': 'downmark', x: x(p.t).toFixed(1), y: H - 4, width: step.toFixed(1), height: 4 }));
    });
    return s;
  }

  // ---- servers ----

  var ACTIONS = [
    { action: 'enable', label: 'Enable', state: 'enabled',
      confirm: function (s) { return 'Enable ' + s.id + '? It takes new meetings again.'; } },
    { action: 'cordon', label: 'Cordon', state: 'cordoned',
      confirm: function (s) { return 'Cordon ' + s.id + '? It takes no new meetings; running meetings go on.'; } },
    { action: 'disable', label: 'Disable', state: 'disabled',
      confirm: function (s) { return 'Disable ' + s.id + '? It takes no new meetings, and no traffic once its meetings have ended.'; } },
    { action: 'panic', label: 'Panic', danger: true,
      confirm: function (s) {
        return 'PANIC ' + s.id + '?\n\nThis ends ALL ' + plural(s.meetings, 'meeting', 'meetings') +
          ' on ' + s.id + ' now (everyone is disconnected) and cordons it. Their next create starts them on another server.';
      } }
  ];

  function act(s, a, button) {
    if (!window.confirm(a.confirm(s))) return;
    button.disabled = true;
    api('POST', 'servers/' + encodeURIComponent(s.id) + '/' + a.action)
      .then(function (res) {
        if (a.action === 'panic') {
          var msg = s.id + ': ended ' + plural(res.ended, 'meeting', 'meetings') + ', forgot ' + res.forgotten;
          if (res.failed && res.failed.length) msg += ', ' + res.failed.length + ' failed';
          if (res.warnings && res.warnings.length) msg += ' (' + res.warnings.join('; ') + ')';
          notice(msg);
        } else {
          notice(s.id + ' is now ' + res.state);
        }
        state.serversKey = ''; // re-render: the clicked button was disabled
        refresh();
      })
      .catch(function (e) {
        show('error', s.id + ': ' + e.message);
        button.disabled = false;
      });
  }

  function cell(label, cls, children) {
    return el('td', { 'data-label': label, 'class': cls || '' }, children);
  }

  function renderServers(st) {
    var t = st.totals;
    document.getElementById('summary').textContent =
      plural(t.servers, 'server', 'servers') + ' · ' + t.up + ' up' + (t.down ? ' · ' + t.down + ' down' : '') +
      ' · ' + plural(t.meetings, 'meeting', 'meetings') + ' · ' + plural(t.participants, 'participant', 'participants');
    var store = document.getElementById('store');
    store.textContent = st.store.ok ? 'store ok' : 'store unreachable';
    store.className = 'pill' + (st.store.ok ? '' : ' bad');
    store.title = st.store.error || '';
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();

    // Re-render the table only when something shown changed, so that
    // hovering, focus and text selection survive the refresh.
    var key = JSON.stringify([st.servers.map(function (s) {
      return [s.id, s.host, s.state, s.health, s.meetings, s.participants, fmtLoad(s.load), s.lastError];
    }), state.filter, state.latest]);
    if (key === state.serversKey) return;
    state.serversKey = key;

    var tbody = document.querySelector('#servers tbody');
    var rows = [];
    var scale = maxLoad();
    st.servers.forEach(function (s) {
      var idButton = el('button', { type: 'button', 'class': 'link', title: 'Show the meetings of ' + s.id, text: s.id,
        onclick: function () { state.filter = state.filter === s.id ? '' : s.id; refresh(); } });
      var actions = ACTIONS.map(function (a) {
        var b = el('button', { type: 'button', 'class': a.danger ? 'danger' : '', 'data-action': a.action, text: a.label });
        if (a.state && s.state === a.state) b.disabled = true;
        b.addEventListener('click', function () { act(s, a, b); });
        return b;
      });
      var tr = el('tr', { 'data-id': s.id, 'class': state.filter === s.id ? 'selected' : '' }, [
        cell('Server', 'first', [el('span', { 'class': 'id' }, [idButton]),
          el('span', { 'class': 'host', title: s.host, text: s.host.replace(/\/bigbluebutton\/api\/$/, '') })]),
        cell('State', '', [el('span', { 'class': 'badge ' + s.state, 'data-field': 'state', text: s.state })]),
        cell('Health', '', [el('span', { 'class': 'badge ' + s.health, 'data-field': 'health', text: s.health })]),
        cell('Meetings', 'num', [el('span', { 'data-field': 'meetings', text: String(s.meetings) })]),
        cell('Participants', 'num', [String(s.participants)]),
        cell('Load', 'num', [fmtLoad(s.load)]),
        cell('Load, last hour', '', [sparkline(s.id, scale)]),
        cell('Last error', s.lastError ? 'lasterr' : 'lasterr noerr', [s.lastError || '']),
        cell('Actions', 'actcell', [el('div', { 'class': 'actions' }, actions)])
      ]);
      rows.push(tr);
    });
    if (!rows.length) {
      rows.push(el('tr', null, [el('td', { colspan: 9, 'class': 'muted empty', text: 'No servers. Add one with: tinyscale servers add --host URL --secret-stdin' })]));
    }
    tbody.replaceChildren.apply(tbody, rows);
  }

  // ---- meetings ----

  function renderMeetings(list) {
    var tbody = document.querySelector('#meetings tbody');
    var ms = list.meetings.filter(function (m) { return !state.filter || m.server === state.filter; });
    var errs = (list.errors || []).map(function (e) { return e.server + ': ' + e.error; });
    show('meetings-errors', errs.length ? 'Not answering: ' + errs.join('; ') : '');
    var key = JSON.stringify([ms, state.filter, Math.floor(Date.now() / 60000)]);
    if (key === state.meetingsKey) return;
    state.meetingsKey = key;
    var rows = ms.map(function (m) {
      var name = [el('span', { 'class': 'id', text: m.name || m.id })];
      if (m.name && m.name !== m.id) name.push(el('span', { 'class': 'host', text: m.id }));
      if (m.stale) name.push(el('span', { 'class': 'stale', text: ' not confirmed: the server did not answer' }));
      if (m.breakout) name.push(el('span', { 'class': 'host', text: 'breakout room' }));
      return el('tr', { 'data-meeting': m.id }, [
        cell('Meeting', 'first', name),
        cell('Server', '', [m.server]),
        cell('Participants', 'num', [m.stale ? '?' : String(m.participants)]),
        cell('Running', '', [m.stale ? '?' : (m.running ? 'yes' : 'no')]),
        cell('Created', '', [fmtAgo(m.createdAt)])
      ]);
    });
    if (!rows.length) {
      rows.push(el('tr', null, [el('td', { colspan: 5, 'class': 'muted empty', text: state.filter ? 'No meetings on ' + state.filter + '.' : 'No meetings.' })]));
    }
    tbody.replaceChildren.apply(tbody, rows);

    var f = document.getElementById('meetings-filter');
    f.replaceChildren();
    if (state.filter) {
      f.appendChild(document.createTextNode('on ' + state.filter + ' · '));
      f.appendChild(el('button', { type: 'button', 'class': 'link', text: 'show all',
        onclick: function () { state.filter = ''; refresh(); } }));
    }
  }

  // ---- refresh loop ----

  // The page refreshes two parts on their own timers: the fleet (status
  // and history, answered from tinyscale's memory) and the meetings (asked
  // of every server, so as slow as the slowest one). Each is shown as soon
  // as it arrives: a hanging server delays the meetings list, never the
  // fleet table or the answer to a button.
  var since = function () { return state.latest ? '?since=' + state.latest : ''; };
  var parts = [
    { name: 'fleet', run: function () {
      return Promise.all([api('GET', 'status'), api('GET', 'history' + since())]).then(function (r) {
        mergeHistory(r[1]);
        renderServers(r[0]);
      });
    } },
    { name: 'meetings', run: function () {
      return api('GET', 'meetings').then(function (list) {
        state.lastMeetings = list;
        renderMeetings(list);
      });
    } }
  ];

  function showErrors() {
    var errs = parts.filter(function (p) { return p.error; }).map(function (p) { return p.error; });
    show('error', errs.length ? 'Could not refresh: ' + errs.join('; ') : '');
  }

  function refreshPart(p) {
    clearTimeout(p.timer);
    if (p.busy) { p.again = true; return; }
    p.busy = true;
    p.run().then(function () { p.error = ''; }, function (e) { p.error = e.message; }).then(function () {
      p.busy = false;
      showErrors();
      if (p.again) { p.again = false; refreshPart(p); return; }
      if (!document.hidden) p.timer = setTimeout(function () { refreshPart(p); }, REFRESH);
    });
  }

  function refresh() {
    // A new filter shows at once from the last list; the fetch follows.
    if (state.lastMeetings) renderMeetings(state.lastMeetings);
    parts.forEach(refreshPart);
  }

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) refresh();
    else parts.forEach(function (p) { clearTimeout(p.timer); });
  });

  refresh();
})();
