// The analyst's workbench: parameter form from each method's spec, live preview and scores,
// comparison list, and the save-profile form. No framework, no CDN.
(function () {
  'use strict';

  function baseMap(element, wards) {
    var map = L.map(element, {maxZoom: 19});
    var outline = L.geoJSON(wards, {style: {color: '#555', weight: 1, fill: false}, interactive: false}).addTo(map);
    map.fitBounds(outline.getBounds());
    L.control.scale().addTo(map);
    return map;
  }

  function hotspotLayer() {
    return L.geoJSON(null, {
      style: {color: '#d7301f', weight: 3, fillColor: '#d7301f', fillOpacity: 0.25, className: 'preview-hotspot'},
      onEachFeature: function (feature, layer) {
        var p = feature.properties, box = document.createElement('div');
        box.textContent = '#' + p.rank + ': ' + p.incidents + ' incidents; ' + (p.top_streets || '');
        layer.bindPopup(box);
      }
    });
  }

  var compareData = document.getElementById('compare-data');
  if (compareData) {
    var cmp = JSON.parse(compareData.textContent);
    cmp.results.forEach(function (result, i) {
      var map = baseMap('small-map-' + (i + 1), cmp.wards);
      hotspotLayer().addTo(map).addData(result.hotspots);
    });
    return;
  }

  var dataNode = document.getElementById('analyst-data');
  if (!dataNode) { return; }
  var state = JSON.parse(dataNode.textContent);
  var form = document.getElementById('analyst-form');
  var paramsBox = document.getElementById('params');
  var map = baseMap('preview-map', state.wards);
  var layer = hotspotLayer().addTo(map);
  var comparing = [];
  var timer = null;
  var previews = 0;

  function buildParams(method, values) {
    paramsBox.querySelectorAll('label').forEach(function (el) { el.remove(); });
    state.forms[method].forEach(function (spec) {
      var label = document.createElement('label');
      label.title = spec.help;
      label.appendChild(document.createTextNode(spec.name + (spec.unit ? ' (' + spec.unit + ')' : '')));
      var input;
      if (spec.choices.length) {
        input = document.createElement('select');
        spec.choices.forEach(function (choice) {
          var option = document.createElement('option');
          option.value = choice; option.textContent = choice;
          input.appendChild(option);
        });
      } else {
        input = document.createElement('input');
        input.type = 'number';
        if (spec.min !== null) { input.min = spec.min; }
        if (spec.max !== null) { input.max = spec.max; }
        input.step = spec.integer ? '1' : 'any';
        input.placeholder = spec.default === null ? 'auto' : String(spec.default);
      }
      input.name = 'param.' + spec.name;
      var value = values[spec.name];
      if (value !== undefined && value !== null) { input.value = value; }
      else if (spec.choices.length && spec.default !== null) { input.value = spec.default; }
      label.appendChild(input);
      paramsBox.appendChild(label);
    });
  }

  function queryString() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (String(value).trim() !== '') { params.append(key, value); }
    });
    return params.toString();
  }

  function cell(row, text, numeric) {
    var td = document.createElement('td');
    td.textContent = text;
    if (numeric) { td.className = 'num'; }
    row.appendChild(td);
  }

  function fmt(value, digits) { return value === null || value === undefined ? 'n/a' : Number(value).toFixed(digits); }

  function showScores(scores, seconds) {
    var body = document.querySelector('#scores tbody');
    body.textContent = '';
    if (!scores.mean) {
      var row = document.createElement('tr'); cell(row, scores.message || 'No back-test possible.'); body.appendChild(row);
    } else {
      [['PAI', fmt(scores.mean.pai, 2)], ['PEI', fmt(scores.mean.pei, 3)], ['RRI', fmt(scores.mean.rri, 2)],
       ['Hit rate', fmt(scores.mean.hit_rate * 100, 1) + '%'], ['Area covered', fmt(scores.mean.area_share * 100, 2) + '%']]
        .forEach(function (pair) { var row = document.createElement('tr'); cell(row, pair[0]); cell(row, pair[1], true); body.appendChild(row); });
    }
    document.getElementById('timing').textContent = '(' + Math.round(seconds * 1000) + ' ms)';
    var svg = document.getElementById('pai-chart');
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var folds = scores.folds || [];
    var top = Math.max.apply(null, folds.map(function (f) { return f.pai || 0; }).concat([1]));
    folds.forEach(function (fold, i) {
      var width = 300 / Math.max(folds.length, 1), height = 80 * (fold.pai || 0) / top;
      var bar = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
      bar.setAttribute('x', i * width + 4); bar.setAttribute('y', 90 - height);
      bar.setAttribute('width', width - 8); bar.setAttribute('height', height); bar.setAttribute('fill', '#555');
      var title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
      title.textContent = fold.test + ': PAI ' + fmt(fold.pai, 1);
      bar.appendChild(title);
      svg.appendChild(bar);
      var label = document.createElementNS('http://www.w3.org/2000/svg', 'text');
      label.setAttribute('x', i * width + width / 2); label.setAttribute('y', 105); label.setAttribute('font-size', '9');
      label.setAttribute('text-anchor', 'middle'); label.textContent = fold.test;
      svg.appendChild(label);
    });
  }

  function refresh() {
    var error = document.getElementById('preview-error');
    fetch(state.previewUrl + '?' + queryString(), {credentials: 'same-origin'})
      .then(function (response) { return response.json().then(function (body) { return [response.ok, body]; }); })
      .then(function (answer) {
        if (!answer[0]) { error.textContent = answer[1].error; error.hidden = false; return; }
        error.hidden = true;
        layer.clearLayers();
        layer.addData(answer[1].hotspots);
        showScores(answer[1].scores, answer[1].seconds);
        previews += 1;
        document.body.dataset.previews = String(previews);
        document.body.dataset.hotspots = String(answer[1].hotspots.features.length);
        syncSaveForm();
      });
  }

  function syncSaveForm() {
    var save = document.getElementById('save-form');
    ['group', 'from', 'to', 'area', 'method', 'coverage'].forEach(function (name) {
      save.querySelector('[name=' + name + ']').value = form.querySelector('[name=' + name + ']').value;
    });
    var extra = document.getElementById('save-params');
    extra.textContent = '';
    paramsBox.querySelectorAll('input, select').forEach(function (input) {
      if (String(input.value).trim() === '') { return; }
      var hidden = document.createElement('input');
      hidden.type = 'hidden'; hidden.name = input.name; hidden.value = input.value;
      extra.appendChild(hidden);
    });
  }

  function soon() { clearTimeout(timer); timer = setTimeout(refresh, 250); }

  form.addEventListener('submit', function (event) { event.preventDefault(); refresh(); });
  form.addEventListener('input', soon);
  form.addEventListener('change', function (event) {
    if (event.target.name === 'method') { buildParams(event.target.value, {}); }
    soon();
  });
  document.getElementById('add-compare').addEventListener('click', function () {
    if (comparing.length === 4) { comparing.shift(); }
    comparing.push(queryString());
    var link = document.getElementById('compare-link');
    document.getElementById('compare-count').textContent = String(comparing.length);
    link.href = state.compareUrl + '?' + comparing.map(function (q) { return 'c=' + encodeURIComponent(q); }).join('&');
    link.hidden = comparing.length < 2;
  });

  buildParams(state.method, state.params);
  refresh();
})();
