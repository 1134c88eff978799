// Submit the filter form when a choice changes; show the custom dates only when asked for.
document.addEventListener('DOMContentLoaded', function () {
  var form = document.querySelector('form[data-autosubmit]');
  if (!form) { return; }
  var period = form.querySelector('select[name=period]');
  var custom = form.querySelectorAll('.custom-period');
  function showCustom() {
    custom.forEach(function (el) { el.hidden = !period || period.value !== 'custom'; });
  }
  if (period) { period.addEventListener('change', showCustom); }
  showCustom();
  form.querySelectorAll('select').forEach(function (select) {
    select.addEventListener('change', function () {
      if (select === period && period.value === 'custom') { return; }
      form.submit();
    });
  });
});
