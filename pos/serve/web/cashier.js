/*
 * cashier.js: the cashier screen (index.html) over the till's HTTP API.
 *
 * A scan is one POST /api/receipts/current/items (a sale receipt is opened
 * first when none is open); the answer is either the new basket (a green
 * flash with the line) or a refusal, shown as a large red banner with the
 * check's own Russian message (message_ru of the reason in docs/API.md),
 * which stays until the next scan or a tap on «Понятно». A weighed good
 * the till cannot sell without a weight (400 with field "quantity") opens
 * the keypad and is sent again with the weight. Payment is cash (the sum
 * handed over and the change on a keypad, sent as "tendered"), card or
 * both; the closed receipt comes back with its printed text and its QR as
 * a PNG, shown and printable (window.print prints only the receipt, see
 * app.css @media print).
 *
 * What the screen says is what happened: a marked line names who answered
 * its check (the operator, the local module, nobody) apart from what the
 * FN made of its crypto tail (a 4-character tail is checked by the
 * operator only: the FN says «не по ключу ФН», not «без ответа»); the
 * deadlines coming (the remote shop's batch from 48 h, the FN's 30 days
 * from day 25) are a strip above the receipt with the till's own words
 * and the true time left; a refusal shows the reason large and its whole
 * explanation below it; an open receipt is shown and can be cancelled
 * even when it has no line (a refused first scan leaves one open; the
 * till lets a manager's return replace it, pos/till/sale.h).
 *
 * Each line's quantity and a discount on it, and the catalogue search by
 * name, are lines.js's (over Kassa.till below).
 *
 * The scan field keeps the focus whenever no dialog is open, so a scanner
 * can fire at any moment; buttons give it back after a tap.
 */
'use strict';

(() => {
  const { h, $, call, money } = Kassa;

  const state = {
    basket: { open: false, lines: [], total: 0 },
    status: null,
    quantity: null, // preset for the next scan ("2", "0.532")
    busy: false,
  };

  /* ---- sound: a short tone for a good scan, two low ones for a refusal --- */

  let audio = null;
  function tone(freq, start, length) {
    try {
      audio = audio || new AudioContext();
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.frequency.value = freq;
      g.gain.value = 0.08;
      o.connect(g).connect(audio.destination);
      o.start(audio.currentTime + start);
      o.stop(audio.currentTime + start + length);
    } catch (e) {
      /* no sound device: the screen says it all */
    }
  }
  const beepOk = () => tone(1320, 0, 0.08);
  const beepRefused = () => {
    tone(330, 0, 0.18);
    tone(330, 0.26, 0.18);
  };

  /* ---- focus: the scan field, unless a dialog is open -------------------- */

  function dialogOpen() {
    return [...document.querySelectorAll('.overlay')].some((o) => !o.hidden);
  }

  function keepFocus() {
    if (!dialogOpen() && document.activeElement !== $('scan')) $('scan').focus();
  }

  /* ---- status bar -------------------------------------------------------- */

  function chip(text, level, title) {
    return h('span', { class: `chip chip-${level}`, title }, text);
  }

  function renderStatus(st) {
    state.status = st;
    const fn = st.fn || {};
    const ob = st.outbox || {};
    $('shift-info').textContent = fn.shift_open
      ? `Смена № ${fn.shift_number} · открыта ${Kassa.since(fn.shift_age_s)}`
      : 'Смена закрыта';
    $('shift-button').textContent = fn.shift_open ? 'Закрыть смену' : 'Открыть смену';
    const chips = [];
    const unsent = ob.unsent_documents || 0;
    chips.push(
      chip(
        unsent ? `ОФД: ${unsent} не отправл.` : 'ОФД: всё отправлено',
        ob.documents_level === 'ok' || !ob.documents_level ? (unsent ? 'info' : 'ok') : 'warn',
        unsent ? `Самый старый: ${Kassa.age(ob.oldest_document_age_s)}` : '',
      ),
    );
    if (ob.may_sell_marked === false)
      chips.push(chip('Маркировка: продажа остановлена', 'bad', ob.refusal || ''));
    else if (ob.batch_applies && ob.batch_level && ob.batch_level !== 'ok')
      /* The remote shop's three-day batch: the cashier sees it coming (the
       * manager exports it, kassa batch export). */
      chips.push(
        chip(
          `Пакет: осталось ${ob.batch_hours_left ?? 0} ч`,
          'warn',
          (ob.warnings || []).join('\n'),
        ),
      );
    if (st.cache && st.cache.stale) chips.push(chip('Кэш кодов устарел', 'warn', ''));
    $('chips').replaceChildren(...chips);
    renderDeadlines(ob.notices || []);
  }

  /* The deadlines coming or passed, in the till's words (outbox notices:
   * the true time left, what to do), one line each. */
  function renderDeadlines(notices) {
    $('deadlines').replaceChildren(
      ...notices.map((n) =>
        h(
          'li',
          {
            class: `deadline deadline-${/blocked|overdue/.test(n.name) ? 'bad' : 'warn'}`,
            dataset: { name: n.name },
          },
          n.message_ru,
        ),
      ),
    );
    $('deadlines').hidden = notices.length === 0;
  }

  async function refreshStatus() {
    const r = await call('GET', '/api/status');
    if (r.status === 200) {
      renderStatus(r.body);
      if (!r.body.fn.shift_open && !dialogOpen()) showShift();
    }
    return r;
  }

  /* ---- the receipt -------------------------------------------------------- */

  function markBadge(line) {
    if (!line.marked) return h('span', { class: 'mark mark-none' }, '—');
    const m = Kassa.MARKS[line.mark] || { cls: 'neutral' };
    return h('span', { class: `mark mark-${m.cls}` }, line.mark || '[М]');
  }

  /* Who answered the code's check (answered_by), in words. */
  const ANSWERS = {
    oism: 'КМ проверен в Честном ЗНАКЕ',
    trueapi: 'КМ проверен в Честном ЗНАКЕ',
    both: 'КМ проверен в Честном ЗНАКЕ',
    local_module: 'КМ проверен по локальному модулю (без связи)',
    cache: 'без ответа Честного ЗНАКА: по локальной базе',
  };

  /* What the FN made of the crypto tail (2106 bits 1 and 2). */
  function tailText(tag2106) {
    if (!(tag2106 & 1)) return 'код проверки не по ключу ФН';
    return tag2106 & 2 ? 'код проверки верен (ФН)' : 'код проверки неверен (ФН)';
  }

  /* [main, small]: the operator's answer, the FN's tail result. */
  function decisionText(line) {
    if (line.without_code) return ['возврат без кода: нужна перемаркировка', ''];
    if (!line.marked) return ['немаркированный товар', ''];
    const what = ANSWERS[line.answered_by] || 'без ответа Честного ЗНАКА';
    return [line.needs_recheck ? `${what} · нужна повторная проверка` : what, tailText(line.tag2106)];
  }

  function renderBasket(highlightId) {
    const b = state.basket;
    const lines = b.open ? b.lines : [];
    $('receipt-title').textContent =
      b.open && b.operation === 'return' ? 'Чек возврата' : 'Чек продажи';
    $('receipt-meta').textContent = b.open
      ? `${b.cashier ? 'Кассир ' + b.cashier + ' · ' : ''}открыт ${new Date(
          b.opened_ms,
        ).toLocaleTimeString('ru-RU', { hour: '2-digit', minute: '2-digit' })}`
      : 'не открыт';
    $('lines').replaceChildren(
      ...lines.map((l, i) =>
        h(
          'li',
          {
            class: 'line' + (l.id === highlightId ? ' line-new' : ''),
            dataset: { id: l.id, gtin: l.gtin },
          },
          h('span', { class: 'line-no' }, String(i + 1)),
          markBadge(l),
          h(
            'div',
            { class: 'line-main' },
            h('div', { class: 'line-name' }, l.name),
            h(
              'div',
              { class: 'line-sub' },
              h(
                'span',
                { class: `decision decision-${l.marked ? 'marked' : 'plain'}` },
                decisionText(l)[0],
              ),
              h('span', { class: 'line-code' }, l.marked ? l.km.split(Kassa.GS)[0] : l.gtin),
            ),
            decisionText(l)[1] ? h('div', { class: 'decision-tail' }, decisionText(l)[1]) : null,
            l.discount_percent
              ? h(
                  'div',
                  { class: 'line-discount-note' },
                  `скидка ${l.discount_percent} % · было ${money(l.list_price)}`,
                )
              : null,
          ),
          h(
            'div',
            { class: 'line-sum' },
            h('div', { class: 'line-total' }, money(l.total)),
            h(
              'div',
              { class: 'muted' },
              `${l.quantity.replace('.', ',')} ${/\./.test(l.quantity) ? 'кг' : 'шт'} × ${money(
                l.price,
              )}`,
            ),
          ),
          /* The quantity and discount buttons (lines.js). */
          Kassa.lineActions ? Kassa.lineActions(l, i) : null,
          h(
            'button',
            {
              type: 'button',
              class: 'btn btn-icon line-remove',
              title: 'Удалить строку',
              'aria-label': `Удалить строку ${i + 1}`,
              onclick: () => removeLine(l.id),
            },
            '✕',
          ),
        ),
      ),
    );
    $('lines-empty').hidden = lines.length > 0;
    $('total').textContent = money(b.open ? b.total : 0);
    const n = lines.length;
    $('total-count').textContent = n
      ? `${n} ${Kassa.plural(n, 'позиция', 'позиции', 'позиций')}`
      : 'нет позиций';
    for (const id of ['pay-cash', 'pay-card', 'pay-mixed', 'cancel'])
      $(id).disabled = !b.open || (id !== 'cancel' && n === 0);
    const added = document.querySelector('.line-new');
    if (added) added.scrollIntoView({ block: 'nearest' });
  }

  async function refreshBasket() {
    const r = await call('GET', '/api/receipts/current');
    if (r.status === 200) {
      state.basket = r.body.receipt;
      renderBasket();
    }
  }

  /* ---- messages -------------------------------------------------------- */

  let flashTimer = null;

  function hideBanner() {
    $('banner').hidden = true;
  }

  /* The refusal banner: the reason in Russian, large; English and the
   * detail small. */
  function showRefusal(body) {
    const d = body.decision || {};
    const full = body.message_ru || 'Отказ.';
    /* The reason's own sentence large; the explanation after it (a
     * deadline's notice, the code's parse error) whole, in smaller type. */
    const head = d.reason_ru && full.startsWith(d.reason_ru) ? d.reason_ru : full;
    $('banner-message').textContent = head;
    $('banner-more').textContent = full.slice(head.length).trim();
    $('banner-more').hidden = head === full;
    $('banner-en').textContent = body.message_en || '';
    const detail = [];
    if (d.product && d.product.name) detail.push(d.product.name);
    if (d.short_ru) detail.push(`причина: ${d.short_ru} (${body.reason})`);
    else if (body.reason) detail.push(`причина: ${body.reason}`);
    else if (body.error) detail.push(`ошибка: ${body.error}`);
    $('banner-detail').textContent = detail.join(' · ');
    $('banner').dataset.reason = body.reason || body.error || '';
    $('banner').hidden = false;
    $('flash').hidden = true;
    document.body.classList.remove('flash-ok');
    beepRefused();
  }

  function showFlash(text) {
    hideBanner();
    $('flash-text').textContent = text;
    $('flash').dataset.shown = String(Number($('flash').dataset.shown || 0) + 1);
    $('flash').hidden = false;
    document.body.classList.add('flash-ok');
    beepOk();
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => {
      $('flash').hidden = true;
      document.body.classList.remove('flash-ok');
    }, 1400);
  }

  /* ---- scanning ---------------------------------------------------------- */

  /* A receipt to scan into (opened when none is); false after a refusal
   * (shown). */
  async function ensureReceipt() {
    if (state.basket.open) return true;
    const r = await call('POST', '/api/receipts', {
      operation: 'sale',
      cashier: Kassa.cashier() || undefined,
    });
    if (r.status === 201 || (r.status === 409 && r.body.error === 'receipt_open')) {
      if (r.body.receipt) state.basket = r.body.receipt;
      else await refreshBasket();
      renderBasket();
      return true;
    }
    showRefusal(r.body);
    return false;
  }

  async function addScan(code, quantity) {
    if (state.busy) return;
    state.busy = true;
    $('scan-form').classList.add('busy');
    try {
      hideBanner();
      const body = { code };
      if (quantity) body.quantity = quantity;
      let r = null;
      /* Twice at most: the receipt the screen knew may have been closed
       * elsewhere (cancelled on the manager screen): then one is opened
       * and the scan sent again. */
      for (let attempt = 0; attempt < 2; attempt++) {
        if (!(await ensureReceipt())) return;
        r = await call('POST', '/api/receipts/current/items', body);
        if (!(r.status === 409 && r.body.error === 'no_receipt')) break;
        state.basket = { open: false };
      }
      if (r.status === 201) {
        state.basket = r.body.receipt;
        const line = state.basket.lines.find((l) => l.id === r.body.line_id);
        renderBasket(r.body.line_id);
        showFlash(
          line
            ? `${line.mark ? line.mark + ' ' : ''}${line.name} — ${money(line.total)}`
            : 'Добавлено',
        );
      } else if (r.status === 400 && r.body.field === 'quantity' && r.body.decision) {
        /* The good is fine; the till needs its weight (or a whole quantity). */
        const p = r.body.decision.product || {};
        askQuantity({
          title: p.weighed ? 'Весовой товар' : 'Количество',
          hint: `${p.name || ''}${p.price ? ' · ' + money(p.price) + (p.weighed ? ' за кг' : '') : ''}. ${r.body.message_ru}`,
          unit: p.weighed ? 'кг' : 'шт',
          then: (q) => addScan(code, q),
        });
      } else {
        showRefusal(r.body);
        /* The receipt stays open (empty after a refused first scan): the
         * screen shows it, to be scanned on or cancelled. */
        await refreshBasket();
      }
      if (r.body.decision && r.body.decision.warning_ru) refreshStatus();
    } finally {
      state.busy = false;
      $('scan-form').classList.remove('busy');
      keepFocus();
    }
  }

  function onScan(text) {
    const q = state.quantity;
    setPresetQuantity(null);
    addScan(text, q);
  }

  async function removeLine(id) {
    const r = await call('DELETE', `/api/receipts/current/items/${id}`);
    if (r.status === 200) {
      state.basket = r.body.receipt;
      renderBasket();
    } else showRefusal(r.body);
    keepFocus();
  }

  function setPresetQuantity(q) {
    state.quantity = q;
    $('qty-badge').hidden = !q;
    $('qty-badge').textContent = q ? `× ${q.replace('.', ',')}` : '';
  }

  /* ---- the keypad -------------------------------------------------------- */

  let keypadThen = null;

  function openKeypad({ title, hint, unit, then, parse, secret }) {
    $('keypad-title').textContent = title;
    $('keypad-input').type = secret ? 'password' : 'text'; /* a PIN is not shown */
    $('keypad-hint').textContent = hint || '';
    $('keypad-input').value = '';
    $('keypad-input').placeholder = unit || '';
    $('keypad-error').textContent = '';
    $('keypad').hidden = false;
    keypadThen = { then, parse };
    $('keypad-input').focus();
  }

  function closeKeypad() {
    $('keypad').hidden = true;
    $('keypad-input').type = 'text';
    $('keypad-input').value = '';
    keypadThen = null;
    keepFocus();
  }

  function askQuantity(opts) {
    openKeypad({
      ...opts,
      parse: (text) => {
        const q = Kassa.parseQuantity(text);
        return q ? { value: q } : { error: 'Число больше нуля, до трёх знаков после запятой.' };
      },
    });
  }

  function buildKeypad() {
    const keys = ['7', '8', '9', '4', '5', '6', '1', '2', '3', ',', '0', '⌫'];
    Kassa.keypad('keypad-keys', 'keypad-input', keys);
    $('keypad-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!keypadThen) return;
      const r = keypadThen.parse($('keypad-input').value);
      if (r.error) {
        $('keypad-error').textContent = r.error;
        return;
      }
      const then = keypadThen.then;
      closeKeypad();
      then(r.value);
    });
    $('keypad-cancel').addEventListener('click', closeKeypad);
  }

  /* ---- payment ------------------------------------------------------------ */

  async function pay(body) {
    if (state.busy) return;
    state.busy = true;
    document.body.classList.add('paying');
    try {
      const r = await call('POST', '/api/receipts/current/pay', { ...body, width: 32 });
      if (r.status === 200) showClosed(r.body.receipt);
      else {
        showRefusal(r.body);
        await refreshBasket();
      }
    } finally {
      state.busy = false;
      document.body.classList.remove('paying');
      keepFocus();
    }
  }

  function payMixed() {
    const total = state.basket.total;
    openKeypad({
      title: 'Смешанная оплата',
      hint: `Итого ${money(total)}. Введите сумму наличными, остальное — картой.`,
      unit: '₽ наличными',
      parse: (text) => {
        const cash = Kassa.parseMoney(text);
        if (cash === null || cash <= 0 || cash >= total)
          return { error: `Сумма наличными: больше нуля и меньше ${money(total)}.` };
        return { value: cash };
      },
      then: (cash) => pay({ cash, cashless: total - cash }),
    });
  }

  /* ---- cash: the sum handed over and the change ------------------------------ */

  /* The notes a customer is likely to hand over for total (kopecks): the
   * next whole 100, 500, 1 000 and 5 000 roubles above it, without repeats. */
  function likelyNotes(total) {
    const notes = [];
    for (const step of [10000, 50000, 100000, 500000]) {
      const n = Math.ceil((total + 1) / step) * step;
      if (n > total && !notes.includes(n)) notes.push(n);
    }
    return notes.slice(0, 3);
  }

  /* The sum in the tender field (kopecks; empty: exactly the total), or null. */
  function tendered() {
    const text = $('tender-input').value.trim();
    return text ? Kassa.parseMoney(text) : state.basket.total;
  }

  function showChange() {
    const t = tendered();
    const change = t === null ? null : t - state.basket.total;
    $('tender-change').textContent = change === null || change < 0 ? '—' : money(change);
    $('tender-change-row').classList.toggle('tender-short', change === null || change < 0);
    $('tender-error').textContent =
      change !== null && change < 0 ? `Получено меньше, чем ${money(state.basket.total)}.` : '';
  }

  function askTendered() {
    const total = state.basket.total;
    $('tender-due').textContent = money(total);
    $('tender-input').value = '';
    $('tender-quick').replaceChildren(
      h(
        'button',
        {
          type: 'button',
          class: 'btn btn-secondary',
          onclick: () => {
            $('tender-input').value = '';
            showChange();
          },
        },
        'Без сдачи',
      ),
      ...likelyNotes(total).map((n) =>
        h(
          'button',
          {
            type: 'button',
            class: 'btn btn-secondary',
            dataset: { amount: n },
            onclick: () => {
              $('tender-input').value = String(n / 100);
              showChange();
            },
          },
          money(n),
        ),
      ),
    );
    showChange();
    $('tender').hidden = false;
    $('tender-input').focus();
  }

  function buildTender() {
    const keys = ['7', '8', '9', '4', '5', '6', '1', '2', '3', ',', '0', '⌫'];
    Kassa.keypad('tender-keys', 'tender-input', keys);
    $('tender-keys').addEventListener('click', () => setTimeout(showChange, 0));
    $('tender-input').addEventListener('input', showChange);
    $('tender-cancel').addEventListener('click', () => {
      $('tender').hidden = true;
      keepFocus();
    });
    $('tender-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = tendered();
      if (t === null || t < state.basket.total) {
        $('tender-error').textContent = `Получено меньше, чем ${money(state.basket.total)}.`;
        return;
      }
      $('tender').hidden = true;
      pay({ method: 'cash', tendered: t });
    });
  }

  function showClosed(rc) {
    const ret = rc.operation === 'return';
    $('closed-title').textContent = ret ? 'Возврат оформлен' : 'Чек закрыт';
    $('closed-meta').textContent =
      `ФД ${rc.document} · ФП ${rc.fiscal_sign} · ${money(rc.total)}` +
      (rc.cash && rc.cashless
        ? ` (наличными ${money(rc.cash)}, картой ${money(rc.cashless)})`
        : rc.cash
          ? ' наличными'
          : ' картой');
    $('closed-change').hidden = !rc.tendered;
    $('closed-change').textContent = rc.tendered
      ? `Получено ${money(rc.tendered)} · Сдача ${money(rc.change)}`
      : '';
    $('closed-text').textContent = rc.text || '';
    $('closed-qr').src = Kassa.pngSource(rc.qr_png);
    $('closed-qr').hidden = !rc.qr_png;
    $('closed-qr-text').textContent = rc.qr_png ? 'QR-код чека' : rc.qr || '';
    $('print-text').textContent = rc.text || '';
    $('print-qr').src = Kassa.pngSource(rc.qr_png);
    $('closed').hidden = false;
    $('closed-next').focus();
    state.basket = { open: false, lines: [], total: 0 };
    renderBasket();
    refreshStatus();
  }

  /* ---- shift ----------------------------------------------------------------- */

  function showShift() {
    const open = state.status && state.status.fn && state.status.fn.shift_open;
    $('shift-title').textContent = open ? 'Закрыть смену?' : 'Смена закрыта';
    $('shift-text').textContent = open
      ? 'Будет сформирован отчёт о закрытии смены. Открытый чек нужно сначала закрыть или отменить.'
      : 'Чтобы продавать, откройте смену: ФН сформирует отчёт об открытии смены.';
    $('shift-ok').textContent = open ? 'Закрыть смену' : 'Открыть смену';
    $('shift-ok').dataset.action = open ? 'close' : 'open';
    $('shift-error').textContent = '';
    $('shift').hidden = false;
  }

  async function shiftAction() {
    const action = $('shift-ok').dataset.action;
    const r = await call('POST', `/api/shift/${action}`, {
      cashier: Kassa.cashier() || undefined,
    });
    if (r.status === 200) {
      $('shift').hidden = true;
      await refreshStatus();
      keepFocus();
    } else {
      $('shift-error').textContent = r.body.message_ru || 'Ошибка.';
    }
  }

  /* ---- start ------------------------------------------------------------------ */

  /* What lines.js (a line's quantity and discount, the catalogue search)
   * shares with this page. */
  Kassa.till = {
    state,
    call,
    renderBasket: (id) => renderBasket(id),
    openKeypad: (opts) => openKeypad(opts),
    addScan: (code, quantity) => addScan(code, quantity),
    showRefusal: (body) => showRefusal(body),
    showFlash: (text) => showFlash(text),
    keepFocus: () => keepFocus(),
  };

  async function start() {
    await refreshStatus();
    await refreshBasket();
    keepFocus();
  }

  function wire() {
    Kassa.ScanField($('scan'), onScan);
    $('scan-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = Kassa.scanText($('scan').value.trim());
      $('scan').value = '';
      if (text) onScan(text);
    });
    $('banner-close').addEventListener('click', () => {
      hideBanner();
      keepFocus();
    });
    $('qty').addEventListener('click', () =>
      askQuantity({
        title: 'Количество или вес',
        hint: 'Для следующего сканирования: штуки или килограммы (весовой товар).',
        unit: 'шт или кг',
        then: setPresetQuantity,
      }),
    );
    $('pay-cash').addEventListener('click', askTendered);
    $('pay-card').addEventListener('click', () => pay({ method: 'cashless' }));
    $('pay-mixed').addEventListener('click', payMixed);
    let cancelArmed = null;
    $('cancel').addEventListener('click', async () => {
      /* A second tap within three seconds: a receipt is not lost by accident. */
      if (!cancelArmed) {
        $('cancel').textContent = 'Нажмите ещё раз, чтобы отменить';
        cancelArmed = setTimeout(() => {
          cancelArmed = null;
          $('cancel').textContent = 'Отменить чек';
        }, 3000);
        return;
      }
      clearTimeout(cancelArmed);
      cancelArmed = null;
      $('cancel').textContent = 'Отменить чек';
      const r = await call('DELETE', '/api/receipts/current');
      if (r.status !== 200) showRefusal(r.body);
      await refreshBasket();
      keepFocus();
    });
    $('closed-print').addEventListener('click', () => window.print());
    $('closed-next').addEventListener('click', () => {
      $('closed').hidden = true;
      keepFocus();
    });
    $('shift-button').addEventListener('click', showShift);
    $('shift-cancel').addEventListener('click', () => {
      $('shift').hidden = true;
      keepFocus();
    });
    $('shift-ok').addEventListener('click', shiftAction);
    $('sign-out').addEventListener('click', () => {
      Kassa.forgetToken();
      Kassa.signIn('', start);
    });
    buildKeypad();
    buildTender();
    /* Give the focus back after any tap that did not start a dialog. */
    document.addEventListener('click', () => setTimeout(keepFocus, 0));
    document.addEventListener('focusout', () => setTimeout(keepFocus, 0));
    Kassa.onUnauthorized = (j) => {
      if (!document.getElementById('signin')) Kassa.signIn(j.message_ru, start);
    };
    /* The status, and the receipt (a manager may have replaced an empty
     * one by a return). */
    setInterval(() => {
      refreshStatus();
      if (!state.busy) refreshBasket();
    }, 15000);
  }

  wire();
  if (Kassa.token()) start();
  else Kassa.signIn('', start);
})();
