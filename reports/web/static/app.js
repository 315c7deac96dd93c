// Charts (ECharts options come from the server), sortable tables, the SQL page and uploads.
(function () {
  'use strict';
  // Filters submit on change (no inline handlers: the Content-Security-Policy forbids them).
  document.querySelectorAll('select[data-autosubmit]').forEach(function (el) {
    el.addEventListener('change', function () { el.form.submit(); });
  });
  document.querySelectorAll('.chart[data-option]').forEach(function (el) {
    var chart = echarts.init(el);
    chart.setOption(JSON.parse(el.getAttribute('data-option')));
    window.addEventListener('resize', function () { chart.resize(); });
    el.dataset.ready = '1';
  });

  function sortable(table) {
    table.querySelectorAll('th').forEach(function (th, col) {
      th.addEventListener('click', function () {
        var asc = !th.classList.contains('sorted-asc');
        table.querySelectorAll('th').forEach(function (h) { h.classList.remove('sorted-asc', 'sorted-desc'); });
        th.classList.add(asc ? 'sorted-asc' : 'sorted-desc');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
          var nx = parseFloat(x), ny = parseFloat(y);
          var r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y), 'zh-CN', { numeric: true });
          return asc ? r : -r;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }
  document.querySelectorAll('table.sortable').forEach(function (t) { if (t.tHead) sortable(t); });

  function fmt(col, v) {
    if (v === null || v === undefined) return '—';
    if (typeof v === 'boolean') return v ? '是' : '否';
    if (typeof v === 'number' && /(_rate|_share|completion)$/.test(col.name) && col.type === 'DOUBLE') return (v * 100).toFixed(1) + '%';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  var sqlForm = document.getElementById('sqlform');
  if (sqlForm) {
    var status = document.getElementById('status'), errBox = document.getElementById('error'), out = document.getElementById('result');
    var sql = document.getElementById('sql');
    sqlForm.addEventListener('submit', function (e) {
      e.preventDefault();
      status.textContent = '运行中…'; errBox.hidden = true; out.innerHTML = '';
      fetch('/api/sql?format=json', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ sql: sql.value }) })
        .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
        .then(function (x) {
          if (!x.ok) { errBox.textContent = x.j.error; errBox.hidden = false; status.textContent = ''; return; }
          var res = x.j;
          var num = res.columns.map(function (c) { return /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL)/.test(c.type); });
          // the schema dictionary's Chinese label above the column's name
          var head = '<thead><tr>' + res.columns.map(function (c, i) {
            var label = c.label && c.label !== c.name ? escapeHTML(c.label) + '<small>' + escapeHTML(c.name) + '</small>' : escapeHTML(c.name);
            return '<th' + (num[i] ? ' class="n"' : '') + '>' + label + '</th>';
          }).join('') + '</tr></thead>';
          var body = '<tbody>' + res.rows.map(function (row) {
            return '<tr>' + row.map(function (v, i) { return '<td' + (num[i] ? ' class="n"' : '') + ' data-v="' + escapeHTML(v === null ? '' : String(v)) + '">' + escapeHTML(fmt(res.columns[i], v)) + '</td>'; }).join('') + '</tr>';
          }).join('') + '</tbody>';
          out.innerHTML = head + body;
          sortable(out);
          status.textContent = res.rows.length + ' 行' + (res.truncated ? '（' + (res.note || '已截断，上限 ' + res.limit + ' 行') + '）' : '');
        })
        .catch(function (err) { errBox.textContent = String(err); errBox.hidden = false; });
    });
    document.querySelectorAll('code.col[data-name]').forEach(function (c) {
      c.addEventListener('click', function () {
        var pos = sql.selectionStart || sql.value.length;
        sql.value = sql.value.slice(0, pos) + c.dataset.name + sql.value.slice(pos);
        sql.focus();
      });
    });
    document.querySelectorAll('button[data-format]').forEach(function (b) {
      b.addEventListener('click', function () {
        var f = document.createElement('form');
        f.method = 'post'; f.action = '/api/sql?format=' + b.dataset.format;
        var t = document.createElement('textarea'); t.name = 'sql'; t.value = sql.value; f.appendChild(t);
        f.style.display = 'none'; document.body.appendChild(f); f.submit(); f.remove();
      });
    });
  }

  var up = document.getElementById('uploadform');
  if (up) {
    var bar = document.getElementById('progress'), st = document.getElementById('status'), results = document.getElementById('results');
    up.addEventListener('submit', function (e) {
      e.preventDefault();
      var xhr = new XMLHttpRequest();
      xhr.open('POST', '/api/ingest');
      bar.hidden = false; bar.value = 0; st.textContent = '上传中…'; results.innerHTML = '';
      xhr.upload.onprogress = function (ev) { if (ev.lengthComputable) { bar.value = Math.round(ev.loaded * 100 / ev.total); } };
      xhr.upload.onload = function () { st.textContent = '已上传，正在导入并刷新统计…'; };
      xhr.onload = function () {
        var j;
        try { j = JSON.parse(xhr.responseText); } catch (err) { st.textContent = '服务器返回错误'; return; }
        if (xhr.status >= 400) { st.textContent = j.error; return; }
        // a refresh that failed must not read as done: the figures are still the old ones
        st.textContent = j.refresh_error ? j.refresh_error : (j.refreshed ? '导入完成，统计已刷新' : '导入完成');
        st.className = j.refresh_error ? 'error' : '';
        results.innerHTML = '<thead><tr><th>文件</th><th>状态</th><th>类型</th><th>截止日期</th><th>接收</th><th>拒收</th><th>原因</th></tr></thead><tbody>' +
          j.files.map(function (f) {
            var why = f.error || (f.rejects || []).slice(0, 3).map(function (r) { return '第' + r.row + '行' + (r.column ? '「' + r.column + '」' : '') + '：' + r.reason; }).join('；');
            var dl = f.rejected > 0 ? ' <a href="/download/rejects.xlsx?batch=' + f.batch + '">下载拒收行</a>' : '';
            return '<tr class="' + (f.status === 'failed' ? 'behind' : 'met') + '"><td>' + escapeHTML(f.file) + '</td><td>' + ({ loaded: '已导入', already_loaded: '已导入过', failed: '失败' }[f.status] || f.status) +
              '</td><td>' + escapeHTML(kindLabel(f.kind, f.shape)) + '</td><td>' + escapeHTML(f.as_of || '') + '</td><td class="n">' + f.accepted + '</td><td class="n">' + f.rejected + '</td><td>' + escapeHTML(why) + dl + '</td></tr>';
          }).join('') + '</tbody>';
      };
      xhr.send(new FormData(up));
    });
  }

  // the export kinds as the platforms name them (queries.KindLabel says the same)
  function kindLabel(kind, shape) {
    if (kind === 'hours' && shape) return { detail: '学时明细', summary: '学时汇总' }[shape] || '学时';
    return { schools: '学校信息', teachers: '教师名单', hours: '学时', progress: '研修考核', assessments: '能力点测评结果', catalogue: '能力点目录' }[kind] || kind || '';
  }

  function escapeHTML(s) { return String(s).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; }); }
})();
