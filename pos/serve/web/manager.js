/*
 * manager.js: the manager screen (manager.html) over the till's HTTP API.
 *
 * The PIN is asked first on an on-screen keypad and checked with a real
 * manager call (GET /api/remark/pending); it lives only in this page's
 * memory and is dropped after IDLE_MS without a touch, or by
 * «Заблокировать»: the next action asks again. A wrong PIN counts against
 * the service's rate limit like any other (docs/OPERATIONS.md), and the
 * page shows the service's own words, including the wait after a lock.
 *
 * Panes:
 *   Смена и касса   office.js: the drawer, cash in / out, X and Z reports,
 *                   correction receipts, the FN close and replacement.
 *   Обзор           GET /api/status every 10 s: FN, shift, keys, the outbox
 *                   (unsent documents, the oldest one's age, the 30-day
 *                   deadline), the three-day batch, the code cache.
 *   Возврат         POST /api/receipts {operation: "return"}, lines by code
 *                   or without one, pay back cash or card.
 *   Перемаркировка  GET /api/remark/pending, POST /api/remark; the label as
 *                   the API drew it (PNG), printable at its size.
 *   Приёмка         POST /api/accept: the document (UTD XML in any declared
 *                   encoding, or a list) against the scanned codes; compare,
 *                   then accept all, part, or reject.
 */
'use strict';

(() => {
  const { h, $, money } = Kassa;
  const IDLE_MS = 5 * 60 * 1000;

  const state = {
    pin: '',
    idleTimer: null,
    tab: 'overview',
    status: null,
    scanned: [],
    lastLabel: null,
  };

  /* ---- the PIN ------------------------------------------------------------ */

  function lock(message) {
    state.pin = '';
    $('pin-input').value = '';
    $('pin-error').textContent = message || '';
    $('pin').hidden = false;
    $('pin-input').focus();
  }

  function touch() {
    clearTimeout(state.idleTimer);
    if (state.pin)
      state.idleTimer = setTimeout(
        () => lock('Экран заблокирован после 5 минут без действий.'),
        IDLE_MS,
      );
  }

  /* A manager call: the PIN goes with it; a PIN refusal locks the screen. */
  async function call(method, path, body) {
    touch();
    const r = await Kassa.call(method, path, body, { pin: state.pin });
    if (r.status === 403 && /^manager_pin/.test(r.body.error || '')) lock(r.body.message_ru);
    if (r.status === 429) lock(r.body.message_ru);
    return r;
  }

  async function tryPin(pin) {
    const r = await Kassa.call('GET', '/api/remark/pending', undefined, { pin });
    if (r.status === 200) {
      state.pin = pin;
      $('pin').hidden = true;
      touch();
      renderPending(r.body.pending || []);
      showTab(state.tab);
      return;
    }
    $('pin-input').value = '';
    $('pin-error').textContent = r.body.message_ru || 'Не удалось проверить PIN.';
  }

  function buildPinPad() {
    const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'C', '0', '⌫'];
    Kassa.keypad('pin-keys', 'pin-input', keys);
    $('pin-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const pin = $('pin-input').value.trim();
      if (pin) tryPin(pin);
    });
  }

  /* ---- tabs ------------------------------------------------------------------ */

  function showTab(name) {
    state.tab = name;
    for (const t of document.querySelectorAll('.tab'))
      t.classList.toggle('tab-active', t.dataset.tab === name);
    for (const p of document.querySelectorAll('.pane')) p.hidden = p.id !== `pane-${name}`;
    if (name === 'overview') refreshStatus();
    if (name === 'returns') refreshReturn();
    if (name === 'remark') refreshPending();
    document.dispatchEvent(new CustomEvent('kassa-tab', { detail: name }));
    const focus = { returns: 'return-scan', remark: 'remark-scan', accept: 'accept-scan' }[name];
    if (focus && !$(focus).closest('[hidden]')) $(focus).focus();
  }

  /* ---- overview ---------------------------------------------------------- */

  function fact(term, value, level) {
    return [h('dt', {}, term), h('dd', { class: level ? `level-${level}` : '' }, value)];
  }

  function levelOf(name) {
    return name === 'ok' ? 'ok' : name === 'warning' || name === 'warn' ? 'warn' : 'bad';
  }

  /* FFD time (local time written as UTC seconds) as a date. */
  function ffdDate(seconds) {
    if (!seconds) return '—';
    return new Date(seconds * 1000).toLocaleString('ru-RU', {
      timeZone: 'UTC',
      day: '2-digit',
      month: '2-digit',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
    });
  }

  /* One task of kassa serve's background work (/api/status "background":
   * the sender, the scheduled sync, the key updates) as a fact. */
  function bgFact(term, bg, task) {
    if (!bg || !bg.enabled) return fact(term, 'выключено (по таймеру или вручную)', '');
    const t = bg[task] || {};
    if (t.state === 'off') return fact(term, 'выключено', '');
    const last = t.last_success ? `успешно ${Kassa.dateTime(t.last_success * 1000)}` : 'ещё не было';
    if (t.failures)
      return fact(
        term,
        `ошибка ${t.last_error || ''} (${t.failures} раз подряд), повтор через ${t.next_in_s} с; ${last}`,
        t.failures >= 3 ? 'bad' : 'warn',
      );
    return fact(term, t.state === 'running' ? `идёт; ${last}` : last, 'ok');
  }

  function renderStatus(st) {
    state.status = st;
    const fn = st.fn || {};
    const ob = st.outbox || {};
    const ca = st.cache || {};
    $('shift-info').textContent = `ФН ${fn.fn_number || '—'} · ${
      fn.shift_open ? `смена № ${fn.shift_number}` : 'смена закрыта'
    }`;
    $('status-time').textContent = `обновлено ${new Date().toLocaleTimeString('ru-RU')}`;

    const warnings = st.warnings || [];
    $('warnings').replaceChildren(
      ...(warnings.length
        ? warnings.map((w) => h('li', { class: 'warning' }, w.split(' / ')[0]))
        : [h('li', { class: 'all-ok' }, 'Предупреждений нет')]),
    );

    const phase = { fiscal: 'фискальный режим', ready: 'готов к регистрации', closed: 'закрыт' };
    const keyAge = st.key_age_days;
    $('facts-fn').replaceChildren(
      ...fact('Номер ФН', fn.fn_number || '—'),
      ...fact('РН ККТ', fn.kkt_reg_number || '—'),
      ...fact(
        'Режим',
        `${phase[fn.phase] || fn.phase}${fn.marking ? ', маркировка' : ''}${fn.autonomous ? ', автономный' : ''}`,
      ),
      ...fact(
        'Смена',
        fn.shift_open
          ? `№ ${fn.shift_number}, открыта ${Kassa.since(fn.shift_age_s)}, чеков ${fn.receipts_in_shift}`
          : 'закрыта',
        fn.shift_over_24h ? 'bad' : fn.shift_open ? 'ok' : 'warn',
      ),
      ...fact('Последний ФД', String(fn.last_document ?? '—')),
      ...fact('Коды в таблице ФН', `${fn.checked_codes ?? 0} из ${fn.checked_capacity ?? '—'}`),
      ...fact(
        'Ключи проверки',
        keyAge === null || keyAge === undefined
          ? 'нет ключей'
          : `обновлены ${keyAge ? keyAge + ' дн назад' : 'сегодня'} (${ffdDate(fn.keys_updated_at)})`,
        keyAge === null || keyAge === undefined ? 'bad' : keyAge >= 60 ? 'warn' : 'ok',
      ),
      ...bgFact('Автообновление ключей', st.background, 'keys'),
    );

    const docs = ob.unsent_documents || 0;
    const notes = ob.unsent_notifications || 0;
    const batch = ob.batch_applies
      ? notes || ob.unexported_notifications
        ? ob.batch_seconds_left > 0
          ? `осталось ${ob.batch_hours_left} ч из ${ob.batch_deadline_hours || 72}`
          : 'срок прошёл: маркированные товары не продаются'
        : 'всё передано'
      : 'не применяется (касса на связи)';
    $('facts-outbox').replaceChildren(
      ...fact(
        'Документы без подтверждения ОФД',
        docs ? `${docs}, старейший ${Kassa.age(ob.oldest_document_age_s)}` : 'нет',
        docs ? levelOf(ob.documents_level) : 'ok',
      ),
      ...fact(
        'До блокировки ФН (30 дней)',
        docs
          ? `${Math.floor((ob.documents_hours_left || 0) / 24)} дн ${(ob.documents_hours_left || 0) % 24} ч`
          : '—',
        docs ? levelOf(ob.documents_level) : '',
      ),
      ...fact(
        'Уведомления без квитанции ОИСМ',
        notes ? `${notes}, старейшее ${Kassa.age(ob.oldest_notification_age_s)}` : 'нет',
        notes ? 'warn' : 'ok',
      ),
      ...fact('Трёхдневный пакет', batch, ob.batch_applies ? levelOf(ob.batch_level) : ''),
      ...bgFact('Фоновая отправка', st.background, 'sender'),
      ...fact(
        'Продажа маркированных',
        ob.may_sell_marked === false ? (ob.refusal || 'остановлена').split(' / ')[0] : 'разрешена',
        ob.may_sell_marked === false ? 'bad' : 'ok',
      ),
    );

    $('facts-cache').replaceChildren(
      ...fact(
        'Синхронизация',
        ca.last_sync_ms ? `${Kassa.dateTime(ca.last_sync_ms)}` : 'ни разу',
        ca.stale ? 'bad' : 'ok',
      ),
      ...fact(
        'Свежесть',
        ca.stale ? `устарел (старше ${ca.stale_hours} ч)` : 'актуален',
        ca.stale ? 'bad' : 'ok',
      ),
      ...bgFact('Синхронизация по расписанию', st.background, 'sync'),
      ...fact('Товаров в справочнике', String(ca.products ?? 0)),
      ...fact('На остатке / продано', `${ca.in_stock ?? 0} / ${ca.sold ?? 0}`),
      ...fact('Перемарк. / блокировок', `${ca.remarked ?? 0} / ${ca.blocked ?? 0}`),
      ...fact('Для этикеток / ждут', `${ca.pooled ?? 0} / ${ca.pending_remark ?? 0}`),
    );

    const chips = [];
    chips.push(
      h(
        'span',
        {
          class: `chip chip-${docs ? (levelOf(ob.documents_level) === 'ok' ? 'info' : levelOf(ob.documents_level)) : 'ok'}`,
        },
        docs ? `ОФД: ${docs} не отправл.` : 'ОФД: всё отправлено',
      ),
    );
    if (ca.stale) chips.push(h('span', { class: 'chip chip-warn' }, 'Кэш устарел'));
    $('chips').replaceChildren(...chips);
    $('pool-info').textContent = `кодов для этикеток в пуле: ${ca.pooled ?? 0}`;
    document.dispatchEvent(new CustomEvent('kassa-status', { detail: st }));
  }

  async function refreshStatus() {
    const r = await Kassa.call('GET', '/api/status');
    if (r.status === 200) renderStatus(r.body);
  }

  /* ---- small red banners ---------------------------------------------------- */

  function banner(prefix, body) {
    if (!body) {
      $(`${prefix}-banner`).hidden = true;
      return;
    }
    $(`${prefix}-banner-message`).textContent = body.message_ru || 'Ошибка.';
    $(`${prefix}-banner-en`).textContent = body.message_en || '';
    $(`${prefix}-banner`).dataset.reason = body.reason || body.error || '';
    $(`${prefix}-banner`).hidden = false;
  }

  /* ---- returns ---------------------------------------------------------------- */

  let returnBasket = null;

  function renderReturn() {
    const b = returnBasket || { open: false };
    const isReturn = b.open && b.operation === 'return';
    const saleOpen = b.open && b.operation !== 'return';
    $('return-notice').hidden = !saleOpen;
    $('return-notice').textContent = saleOpen
      ? 'На кассе открыт чек продажи: закройте или отмените его, затем оформляйте возврат.'
      : '';
    $('return-start').hidden = isReturn || !$('return-done').hidden;
    $('return-open').disabled = saleOpen;
    $('return-work').hidden = !isReturn;
    $('return-meta').textContent = isReturn ? `открыт ${Kassa.dateTime(b.opened_ms)}` : '';
    if (!isReturn) return;
    $('return-lines').replaceChildren(
      ...b.lines.map((l, i) =>
        h(
          'li',
          { class: 'line', dataset: { id: l.id, gtin: l.gtin } },
          h('span', { class: 'line-no' }, String(i + 1)),
          l.marked
            ? h(
                'span',
                { class: `mark mark-${(Kassa.MARKS[l.mark] || { cls: 'neutral' }).cls}` },
                l.mark || '[М]',
              )
            : h(
                'span',
                { class: `mark ${l.without_code ? 'mark-nocode' : 'mark-none'}` },
                l.without_code ? 'без кода' : '—',
              ),
          h(
            'div',
            { class: 'line-main' },
            h('div', { class: 'line-name' }, l.name),
            h(
              'div',
              { class: 'line-sub' },
              h(
                'span',
                { class: 'line-code' },
                l.marked ? l.km.split(Kassa.GS)[0] : `GTIN ${l.gtin}`,
              ),
            ),
          ),
          h('div', { class: 'line-sum' }, h('div', { class: 'line-total' }, money(l.total))),
          h(
            'button',
            {
              type: 'button',
              class: 'btn btn-icon line-remove',
              'aria-label': `Удалить строку ${i + 1}`,
              onclick: async () => {
                const r = await call('DELETE', `/api/receipts/current/items/${l.id}`);
                if (r.status === 200) returnBasket = r.body.receipt;
                else banner('return', r.body);
                renderReturn();
              },
            },
            '✕',
          ),
        ),
      ),
    );
    $('return-total').textContent = money(b.total);
    for (const id of ['return-cash', 'return-card']) $(id).disabled = b.lines.length === 0;
  }

  async function refreshReturn() {
    const r = await call('GET', '/api/receipts/current');
    if (r.status === 200) returnBasket = r.body.receipt;
    renderReturn();
  }

  async function openReturn() {
    banner('return', null);
    const r = await call('POST', '/api/receipts', {
      operation: 'return',
      cashier: Kassa.cashier() || undefined,
    });
    if (r.status === 201) {
      returnBasket = r.body.receipt;
      renderReturn();
      $('return-scan').focus();
    } else {
      await refreshReturn();
      $('return-notice').hidden = false;
      $('return-notice').textContent = r.body.message_ru || 'Не удалось открыть возврат.';
    }
  }

  async function returnByCode(code) {
    banner('return', null);
    const r = await call('POST', '/api/receipts/current/items', { code });
    if (r.status === 201) returnBasket = r.body.receipt;
    else banner('return', r.body);
    renderReturn();
  }

  /* A barcode (EAN-8/13, UPC-A) or a GTIN as the 14 digits the API takes. */
  function gtin14(text) {
    const digits = (text || '').replace(/\s/g, '');
    if (!/^\d{8}$|^\d{12,14}$/.test(digits)) return null;
    return digits.padStart(14, '0');
  }

  async function returnWithoutCode(ev) {
    ev.preventDefault();
    banner('return', null);
    const gtin = gtin14($('return-gtin').value);
    if (!gtin) {
      banner('return', {
        message_ru: 'Нужен штрихкод товара (EAN-8, EAN-13) или GTIN из 14 цифр.',
        message_en: 'A barcode (EAN-8, EAN-13) or a 14-digit GTIN is needed.',
      });
      return;
    }
    /* The sale it takes back (issue 18): the receipt's FD and its line. */
    const saleFd = Number($('return-sale-fd').value.trim());
    const saleLine = Number($('return-sale-line').value.trim());
    if (!Number.isInteger(saleFd) || saleFd < 1 || !Number.isInteger(saleLine) || saleLine < 1) {
      banner('return', {
        message_ru: 'Укажите чек продажи: его ФД и номер строки с этим товаром.',
        message_en: "Name the sale: its receipt's FD and the line with this good.",
      });
      return;
    }
    const r = await call('POST', '/api/receipts/current/items/without-code', {
      gtin,
      sale_fd: saleFd,
      sale_line: saleLine,
    });
    if (r.status === 201) {
      returnBasket = r.body.receipt;
      for (const id of ['return-gtin', 'return-sale-fd', 'return-sale-line']) $(id).value = '';
    } else banner('return', r.body);
    renderReturn();
  }

  async function payReturn(method) {
    banner('return', null);
    const r = await call('POST', '/api/receipts/current/pay', { method, width: 32 });
    if (r.status !== 200) {
      banner('return', r.body);
      return;
    }
    const rc = r.body.receipt;
    $('return-done-title').textContent = `Возврат оформлен: ФД ${rc.document}, ${money(rc.total)}`;
    $('return-text').textContent = rc.text || '';
    $('return-qr').src = Kassa.pngSource(rc.qr_png);
    $('print-text').textContent = rc.text || '';
    $('print-qr').src = Kassa.pngSource(rc.qr_png);
    $('return-done').hidden = false;
    returnBasket = { open: false };
    renderReturn();
    refreshPending();
  }

  /* ---- remarking ------------------------------------------------------------- */

  function renderPending(list) {
    $('pending-count').hidden = list.length === 0;
    $('pending-count').textContent = String(list.length);
    $('pending-empty').hidden = list.length > 0;
    $('pending').replaceChildren(
      ...list.map((p) =>
        h(
          'li',
          { class: 'pending-item', dataset: { id: p.id } },
          h(
            'div',
            { class: 'pending-main' },
            h('div', { class: 'line-name' }, p.name || `GTIN ${p.gtin}`),
            h(
              'div',
              { class: 'muted' },
              `GTIN ${p.gtin} · возврат ФД ${p.return_fd}, строка ${p.line} · ${Kassa.dateTime(p.created_ms)}`,
            ),
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'btn btn-primary',
              onclick: () => remark({ pending_id: p.id }),
            },
            'Перемаркировать',
          ),
        ),
      ),
    );
  }

  async function refreshPending() {
    const r = await call('GET', '/api/remark/pending');
    if (r.status === 200) renderPending(r.body.pending || []);
  }

  async function remark(body) {
    banner('remark', null);
    const r = await call('POST', '/api/remark', body);
    if (r.status !== 201) {
      banner('remark', r.body);
      return;
    }
    const rm = r.body.remark;
    state.lastLabel = rm;
    $('label-img').src = Kassa.pngSource(rm.label_png);
    $('label-img').hidden = !rm.label_png;
    $('print-label-img').src = Kassa.pngSource(rm.label_png);
    const serial = (rm.new_code.split(Kassa.GS)[0].match(/^01\d{14}21(.*)$/) || [])[1] || '';
    $('label-facts').replaceChildren(
      ...fact('GTIN', rm.gtin),
      ...fact('Серийный номер', serial || '—'),
      ...fact(
        'Заменяет',
        rm.old.startsWith('return:')
          ? `возврат без кода (ФД ${rm.old.split(':')[1]}, строка ${rm.old.split(':')[2]})`
          : rm.old,
      ),
      ...fact(
        'Честный ЗНАК',
        rm.reported ? 'уведомлён о замене' : `отчёт в очереди: ${rm.report_error || 'нет связи'}`,
        rm.reported ? 'ok' : 'warn',
      ),
      ...(rm.label_error ? fact('Этикетка', `не нарисована: ${rm.label_error}`, 'bad') : []),
    );
    /* The whole code, its group separators drawn as GS marks. */
    const parts = rm.new_code.split(Kassa.GS);
    $('label-code').replaceChildren(
      ...parts.flatMap((p, i) =>
        i ? [h('span', { class: 'gs', title: 'GS (0x1D)' }, 'GS'), p] : [p],
      ),
    );
    $('label-code').dataset.code = rm.new_code;
    $('remark-done-text').textContent =
      'Наклейте новую этикетку поверх старого кода. Старый код больше не продаётся; новый — на остатке.';
    $('remark-done').hidden = false;
    $('label-card').hidden = false;
    refreshPending();
    refreshStatus();
  }

  /* ---- acceptance -------------------------------------------------------------- */

  function renderScanned() {
    $('accept-scanned-count').textContent = `Отсканировано: ${state.scanned.length}`;
    $('accept-scanned').replaceChildren(
      ...state.scanned.map((code, i) =>
        h(
          'li',
          {},
          h('span', { class: 'line-code' }, code.split(Kassa.GS)[0]),
          h(
            'button',
            {
              type: 'button',
              class: 'btn btn-icon btn-small',
              'aria-label': 'Убрать',
              onclick: () => {
                state.scanned.splice(i, 1);
                renderScanned();
              },
            },
            '✕',
          ),
        ),
      ),
    );
    const list = $('accept-scanned');
    list.scrollTop = list.scrollHeight;
  }

  /*
   * A UTD file as text the API can parse: its bytes decoded with the
   * encoding its XML declaration names (windows-1251 is usual), and the
   * declaration then rewritten to UTF-8, which is what JSON carries.
   */
  async function readDocument(file) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const head = new TextDecoder('latin1').decode(bytes.slice(0, 200));
    const m = /^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']/.exec(head);
    let text;
    try {
      text = new TextDecoder(m ? m[1] : 'utf-8', { fatal: true }).decode(bytes);
    } catch (e) {
      throw new Error(
        m
          ? `Файл не в объявленной кодировке ${m[1]}.`
          : 'Файл не в UTF-8 и не объявляет кодировку.',
      );
    }
    return m ? text.replace(/(<\?xml[^>]*encoding\s*=\s*["'])[^"']+(["'])/, '$1UTF-8$2') : text;
  }

  function codeItem(entry) {
    const where = entry.line ? `стр. ${entry.line}` : '';
    return h(
      'li',
      {},
      h('span', { class: 'line-code' }, entry.ki || entry.code || entry.text || ''),
      h(
        'span',
        { class: 'muted' },
        [where, entry.message || entry.state || entry.kind || ''].filter(Boolean).join(' · '),
      ),
    );
  }

  function renderReport(r) {
    const j = r.body;
    $('accept-report').hidden = false;
    /* Green: a comparison with nothing missing or extra, or a decision
     * that went through; red otherwise. */
    const compared = !j.decision || j.decision === 'compare' || j.decision === 'none';
    const good = r.status === 200 && (compared ? j.clean === true : j.outcome !== 'refused');
    $('accept-report').className = `card report ${good ? 'report-ok' : 'report-bad'}`;
    $('accept-message').textContent = j.message_ru || j.message || '';
    const c = j.counts || {};
    const count = (label, n, cls) =>
      h(
        'div',
        { class: `count ${n && cls ? cls : ''}` },
        h('div', { class: 'count-n' }, String(n ?? 0)),
        h('div', { class: 'count-label' }, label),
      );
    $('accept-counts').replaceChildren(
      count('по документу', c.document),
      count('отсканировано', c.delivery),
      count('совпало', c.matched, 'count-ok'),
      count('не хватает', c.missing, 'count-bad'),
      count('лишних', c.extra, 'count-warn'),
      count('принято', c.accepted, 'count-ok'),
    );
    $('accept-missing').replaceChildren(...(j.missing || []).map(codeItem));
    $('accept-extra').replaceChildren(...(j.extra || []).map(codeItem));
    const other = [
      ...(j.duplicates || []).map((d) => ({ ...d, message: `дубль (${d.side})` })),
      ...(j.invalid || []).map((d) => ({ ...d, code: d.text })),
      ...(j.packages || []).map((d) => ({ ...d, message: d.message })),
      ...(j.conflicts || []).map((d) => ({ ...d, message: d.message })),
    ];
    $('accept-other').replaceChildren(...other.map(codeItem));
  }

  async function accept(decision) {
    const text = $('accept-doc').value.trim();
    if (!text) {
      renderReport({
        status: 400,
        body: { message_ru: 'Вставьте или загрузите документ поставщика (УПД или список кодов).' },
      });
      return;
    }
    const body = { scanned: state.scanned, decision };
    if (/^\s*</.test(text)) body.utd = text;
    else body.list = Kassa.scanText(text);
    if ($('accept-file-name').textContent) body.name = $('accept-file-name').textContent;
    const r = await call('POST', '/api/accept', body);
    if (r.status === 403 || r.status === 429) return;
    renderReport(r);
    if (r.status === 200 && decision !== 'compare') refreshStatus();
  }

  /* ---- start --------------------------------------------------------------------- */

  /* What office.js (the shift's money and documents) shares with this page. */
  Kassa.manager = {
    call: (method, path, body) => call(method, path, body),
    banner: (prefix, body) => banner(prefix, body),
    unlocked: () => Boolean(state.pin),
    refreshStatus: () => refreshStatus(),
    fact: (term, value, level) => fact(term, value, level),
  };

  function wire() {
    buildPinPad();
    for (const t of document.querySelectorAll('.tab'))
      t.addEventListener('click', () => showTab(t.dataset.tab));
    $('lock').addEventListener('click', () => lock(''));
    $('return-open').addEventListener('click', openReturn);
    Kassa.ScanField($('return-scan'), returnByCode);
    $('return-scan-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = Kassa.scanText($('return-scan').value.trim());
      $('return-scan').value = '';
      if (t) returnByCode(t);
    });
    $('return-nocode-form').addEventListener('submit', returnWithoutCode);
    $('return-cash').addEventListener('click', () => payReturn('cash'));
    $('return-card').addEventListener('click', () => payReturn('cashless'));
    $('return-cancel').addEventListener('click', async () => {
      const r = await call('DELETE', '/api/receipts/current');
      if (r.status !== 200) banner('return', r.body);
      await refreshReturn();
    });
    $('return-print').addEventListener('click', () => {
      document.body.classList.remove('printing-label');
      window.print();
    });
    $('return-again').addEventListener('click', () => {
      $('return-done').hidden = true;
      renderReturn();
    });
    Kassa.ScanField($('remark-scan'), (code) => remark({ code }));
    $('remark-scan-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = Kassa.scanText($('remark-scan').value.trim());
      $('remark-scan').value = '';
      if (t) remark({ code: t });
    });
    $('label-print').addEventListener('click', () => {
      document.body.classList.add('printing-label');
      window.print();
      document.body.classList.remove('printing-label');
    });
    Kassa.ScanField($('accept-scan'), (code) => {
      state.scanned.push(code);
      renderScanned();
    });
    $('accept-scan-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = Kassa.scanText($('accept-scan').value.trim());
      $('accept-scan').value = '';
      if (t) {
        state.scanned.push(t);
        renderScanned();
      }
    });
    /* Codes pasted with raw GS characters: show them as ␝ (sent as GS). */
    $('accept-doc').addEventListener('input', () => {
      const t = $('accept-doc');
      if (t.value.includes(Kassa.GS) && !/^\s*</.test(t.value)) t.value = Kassa.shownCode(t.value);
    });
    $('accept-clear').addEventListener('click', () => {
      state.scanned = [];
      renderScanned();
    });
    $('accept-file').addEventListener('change', async () => {
      const f = $('accept-file').files[0];
      if (!f) return;
      try {
        $('accept-doc').value = await readDocument(f);
        $('accept-file-name').textContent = f.name;
      } catch (e) {
        renderReport({ status: 400, body: { message_ru: e.message } });
      }
    });
    $('accept-compare').addEventListener('click', () => accept('compare'));
    $('accept-all').addEventListener('click', () => accept('all'));
    $('accept-part').addEventListener('click', () => accept('part'));
    $('accept-reject').addEventListener('click', () => accept('reject'));
    document.addEventListener('pointerdown', touch);
    document.addEventListener('keydown', touch);
    Kassa.onUnauthorized = (j) => {
      if (!document.getElementById('signin')) Kassa.signIn(j.message_ru, start);
    };
    setInterval(() => {
      if (state.tab === 'overview' && state.pin) refreshStatus();
    }, 10000);
  }

  async function start() {
    await refreshStatus();
    lock('');
  }

  wire();
  if (Kassa.token()) start();
  else Kassa.signIn('', start);
})();
