/*
 * office.js: the manager screen's «Смена и касса» pane (manager.html) and
 * the drawer card of its overview, over the till's HTTP API with the
 * manager's PIN (manager.js shares its call as Kassa.manager):
 *
 *   the drawer     GET /api/drawer: the shift's cash in / out and what the
 *                  drawer should hold; «Внести» / «Выплатить» are
 *                  POST /api/cash/in|out (a cash out past the balance is
 *                  refused by the till, "short", and shown as it said);
 *   reports        POST /api/reports/x, and /api/reports/z after a second
 *                  tap (it closes the shift): shown readable, one row per
 *                  operation with its count, total, each payment form used
 *                  and its VAT by rate, the corrections, the drawer, and the
 *                  report as printed beside it («Печать» prints only that);
 *   corrections    POST /api/corrections: income or refund, cash, cashless
 *                  and another form, the VAT rate, the reason, the order's
 *                  number and date (none: on the register's own initiative);
 *   FN replacement POST /api/fn/close after a second tap, then
 *                  POST /api/fn/replace with the new FN's number.
 *
 * Every refusal is the till's own words in the pane's red banner; nothing
 * is counted or decided here.
 */
'use strict';

(() => {
  const { h, $, money } = Kassa;
  const M = () => Kassa.manager;

  const OPERATIONS = [
    ['sale', 'Приход'],
    ['sale_return', 'Возврат прихода'],
    ['purchase', 'Расход'],
    ['purchase_return', 'Возврат расхода'],
  ];
  const FORMS = [
    ['cash', 'Наличными'],
    ['cashless', 'Безналичными'],
    ['prepaid', 'Предоплатой'],
    ['credit', 'Постоплатой'],
    ['other', 'Иной формой'],
  ];

  /* ---- what happened ----------------------------------------------------------- */

  function done(text) {
    $('office-done-text').textContent = text || '';
    $('office-done').hidden = !text;
  }

  /* The pane scrolls to what happened (a report shown below scrolls on). */
  function refused(body) {
    done('');
    M().banner('office', body);
    $('office-banner').scrollIntoView({ block: 'nearest' });
  }

  function succeeded(text) {
    M().banner('office', null);
    done(text);
    $('office-done').scrollIntoView({ block: 'nearest' });
  }

  /* ---- the drawer ---------------------------------------------------------------- */

  function drawerFacts(d) {
    const f = M().fact;
    return [
      ...f('Смена', d.shift_open ? `№ ${d.shift} открыта` : 'закрыта', d.shift_open ? 'ok' : 'warn'),
      ...f('Внесено', `${money(d.cash_in)} · ${d.cash_ins} раз`),
      ...f('Выплачено', `${money(d.cash_out)} · ${d.cash_outs} раз`),
      ...f('Наличных в ящике', money(d.balance), 'ok'),
    ];
  }

  async function refreshDrawer() {
    if (!M() || !M().unlocked()) return;
    const r = await M().call('GET', '/api/drawer');
    if (r.status !== 200) return;
    const d = r.body.drawer;
    $('office-drawer').replaceChildren(...drawerFacts(d));
    $('facts-drawer').replaceChildren(...drawerFacts(d));
    $('office-shift').textContent = d.shift_open ? `смена № ${d.shift}` : 'смена закрыта';
  }

  async function afterChange() {
    await refreshDrawer();
    await M().refreshStatus();
  }

  async function moveCash(kind) {
    const amount = Kassa.parseMoney($('cash-amount').value);
    if (!amount) {
      refused({
        message_ru: 'Введите сумму в рублях больше нуля.',
        message_en: 'Enter an amount in roubles above zero.',
      });
      return;
    }
    const r = await M().call('POST', `/api/cash/${kind}`, { amount });
    if (r.status !== 200) return refused(r.body);
    $('cash-amount').value = '';
    succeeded(
      `${kind === 'in' ? 'Внесено' : 'Выплачено'} ${money(r.body.cash.amount)}; в ящике ${money(r.body.cash.balance)}`,
    );
    await afterChange();
  }

  /* ---- the reports, readable ------------------------------------------------------- */

  /* The forms any operation of these totals used (cash and card always). */
  function formsUsed(totals) {
    return FORMS.filter(
      ([key]) =>
        key === 'cash' ||
        key === 'cashless' ||
        OPERATIONS.some(([op]) => (totals.receipts[op] || {})[key]),
    );
  }

  function totalsTable(title, totals) {
    const forms = formsUsed(totals);
    const rows = [];
    for (const [kind, prefix] of [
      ['receipts', ''],
      ['corrections', 'Коррекция: '],
    ])
      for (const [op, words] of OPERATIONS) {
        const t = totals[kind][op] || {};
        if (!t.count) continue;
        rows.push(
          h(
            'tr',
            { dataset: { op: `${kind}.${op}` } },
            h('th', { scope: 'row' }, prefix + words),
            h('td', {}, String(t.count)),
            h('td', { class: 'sum' }, money(t.total)),
            /* The FN's correction counters (1133) carry the count and the
             * total only: no payment forms to show. */
            ...forms.map(([key]) =>
              h('td', { class: 'sum' }, kind === 'corrections' ? '—' : money(t[key])),
            ),
          ),
        );
        for (const v of t.vat || [])
          rows.push(
            h(
              'tr',
              { class: 'vat-row' },
              h('th', { scope: 'row' }, v.label),
              h('td', {}, ''),
              h('td', { class: 'sum' }, money(v.sum)),
              ...forms.map(() => h('td', {}, '')),
            ),
          );
      }
    if (!rows.length)
      rows.push(h('tr', {}, h('td', { colspan: String(3 + forms.length) }, 'Расчётов не было')));
    return h(
      'table',
      { class: 'totals' },
      h('caption', {}, title),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'Операция'),
          h('th', {}, 'Чеков'),
          h('th', {}, 'Итого'),
          ...forms.map(([, words]) => h('th', {}, words)),
        ),
      ),
      h('tbody', {}, ...rows),
    );
  }

  function drawerTable(d) {
    return h(
      'table',
      { class: 'totals totals-drawer' },
      h('caption', {}, 'Денежный ящик'),
      h(
        'tbody',
        {},
        h('tr', {}, h('th', {}, 'Внесено'), h('td', { class: 'sum' }, money(d.cash_in))),
        h('tr', {}, h('th', {}, 'Выплачено'), h('td', { class: 'sum' }, money(d.cash_out))),
        h(
          'tr',
          { class: 'drawer-balance' },
          h('th', {}, 'Наличных в ящике'),
          h('td', { class: 'sum' }, money(d.balance)),
        ),
      ),
    );
  }

  function showReport(rep, copy) {
    const z = rep.report === 'z' || rep.kind === 'z';
    $('report-title').textContent =
      `${z ? 'Z-отчёт (закрытие смены)' : 'X-отчёт'}${copy ? ' — копия' : ''} · ФД ${rep.document}` +
      (rep.shift ? ` · смена № ${rep.shift}` : '');
    const parts = [];
    if (rep.shift_totals) parts.push(totalsTable('Итоги смены', rep.shift_totals));
    if (rep.drawer && rep.shift) parts.push(drawerTable(rep.drawer));
    if (rep.fn_totals) parts.push(totalsTable('Итоги ФН с регистрации', rep.fn_totals));
    $('report-tables').replaceChildren(...parts);
    $('report-text').textContent = rep.text || '';
    $('report-view').hidden = false;
    $('report-view').scrollIntoView({ block: 'start' });
  }

  async function report(kind) {
    $('report-z-confirm').hidden = true;
    /* 32 characters (a 58 mm roll): the printed form fits beside the tables. */
    const body = kind === 'z' ? { cashier: Kassa.cashier() || undefined, width: 32 } : { width: 32 };
    const r = await M().call('POST', `/api/reports/${kind}`, body);
    if (r.status !== 200) return refused(r.body);
    succeeded(kind === 'z' ? 'Смена закрыта, Z-отчёт сформирован.' : 'X-отчёт сформирован.');
    showReport(r.body.report, false);
    await afterChange();
  }

  /* ---- a correction receipt ------------------------------------------------------- */

  /* A money field: kopecks, 0 when empty, null when not a sum. */
  function amount(id) {
    const text = $(id).value.trim();
    return text ? Kassa.parseMoney(text) : 0;
  }

  async function correct() {
    const cash = amount('corr-cash');
    const cashless = amount('corr-cashless');
    const other = amount('corr-other');
    if (cash === null || cashless === null || other === null)
      return refused({
        message_ru: 'Суммы — в рублях, например 100 или 99,90.',
        message_en: 'Amounts in roubles, e.g. 100 or 99.90.',
      });
    const body = {
      operation: $('corr-operation').value,
      cash,
      cashless,
      other,
      vat: $('corr-vat').value,
      reason: $('corr-reason').value.trim() || undefined,
      order: $('corr-order').value.trim() || undefined,
      date: $('corr-date').value || undefined,
      cashier: Kassa.cashier() || undefined,
      width: 32,
    };
    const r = await M().call('POST', '/api/corrections', body);
    if (r.status !== 201) return refused(r.body);
    const c = r.body.correction;
    succeeded(
      `Чек коррекции ФД ${c.document}: ${c.operation === 'income' ? 'приход' : 'возврат прихода'} ${money(c.total)}` +
        (c.correction_type ? ' по предписанию' : ' по своей инициативе'),
    );
    $('report-title').textContent = `Чек коррекции · ФД ${c.document}`;
    $('report-tables').replaceChildren();
    $('report-text').textContent = c.text || '';
    $('report-view').hidden = false;
    $('report-view').scrollIntoView({ block: 'start' });
    for (const id of ['corr-cash', 'corr-cashless', 'corr-other', 'corr-reason', 'corr-order'])
      $(id).value = '';
    $('corr-date').value = '';
    await afterChange();
  }

  /* ---- the FN ------------------------------------------------------------------------ */

  async function closeFn() {
    $('fn-close-confirm').hidden = true;
    const r = await M().call('POST', '/api/fn/close', {});
    if (r.status !== 200) return refused(r.body);
    succeeded(
      `ФН закрыт: отчёт о закрытии ФД ${r.body.fn_close.document}. Дождитесь его передачи в ОФД.`,
    );
    await afterChange();
  }

  async function replaceFn() {
    const r = await M().call('POST', '/api/fn/replace', {
      fn_number: $('fn-new-number').value.trim(),
      cashier: Kassa.cashier() || undefined,
    });
    if (r.status !== 200) return refused(r.body);
    const x = r.body.replaced;
    succeeded(
      `ФН ${x.old_fn} заменён на ${x.new_fn} (отчёт о перерегистрации ФД ${x.document}). ` +
        'Загрузите ключи проверки в новый ФН до продажи маркированных товаров.',
    );
    $('fn-new-number').value = '';
    await afterChange();
  }

  /* ---- wiring ------------------------------------------------------------------------ */

  function wire() {
    $('cash-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      moveCash(ev.submitter && ev.submitter.value === 'out' ? 'out' : 'in');
    });
    $('report-x').addEventListener('click', () => report('x'));
    $('report-z').addEventListener('click', () => {
      $('report-z-confirm').hidden = false;
    });
    $('report-z-confirm').addEventListener('click', () => report('z'));
    $('correction-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      correct();
    });
    $('fn-close').addEventListener('click', () => {
      $('fn-close-confirm').hidden = false;
    });
    $('fn-close-confirm').addEventListener('click', closeFn);
    $('fn-replace-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      replaceFn();
    });
    $('report-print').addEventListener('click', () => {
      $('print-text').textContent = $('report-text').textContent;
      $('print-qr').removeAttribute('src');
      window.print();
    });
    document.addEventListener('kassa-tab', (ev) => {
      if (ev.detail === 'office') refreshDrawer();
    });
    document.addEventListener('kassa-status', () => refreshDrawer());
  }

  wire();
})();
