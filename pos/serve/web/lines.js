/*
 * lines.js: on the cashier screen (index.html), a line's quantity and a
 * discount on it, and the catalogue search by name, over the till's HTTP
 * API (cashier.js shares its basket, keypad and scan as Kassa.till):
 *
 *   quantity   «Кол-во» on a line: the keypad, then
 *              POST /api/receipts/current/items/{id}/quantity; the till's
 *              rule (a marked good is one piece per code, a piece good whole,
 *              a weighed good three decimals) answers a wrong one;
 *   discount   «%» on a line: the keypad for a whole percentage (0 takes it
 *              off), POST …/items/{id}/discount; above the till's
 *              [till] discount_without_pin_percent the till asks for the
 *              manager PIN (403 manager_pin_required), which the keypad
 *              takes (hidden) and sends once with the same request;
 *   search     «Поиск товара…»: POST /api/catalogue/search as the cashier
 *              types (two characters at least); an unmarked good is added
 *              by its GTIN like a scan (a weighed one asks its weight); a
 *              marked good is only named: its code must be scanned.
 */
'use strict';

(() => {
  const { h, $, money } = Kassa;
  const T = () => Kassa.till;

  /* ---- a line's quantity and discount ------------------------------------------ */

  /* A weighed line: its quantity has decimals ("0.532"), as the basket gives it. */
  const weighed = (l) => /\./.test(l.quantity);

  async function afterLineCall(r) {
    if (r.status === 200) {
      T().state.basket = r.body.receipt;
      T().renderBasket();
      return true;
    }
    T().showRefusal(r.body);
    return false;
  }

  function askLineQuantity(l) {
    T().openKeypad({
      title: 'Количество',
      hint: `${l.name}: ${l.marked ? 'маркированный товар — одна штука на код' : weighed(l) ? 'вес в килограммах' : 'целое число штук'}.`,
      unit: weighed(l) ? 'кг' : 'шт',
      parse: (text) => {
        const q = Kassa.parseQuantity(text);
        return q ? { value: q } : { error: 'Число больше нуля, до трёх знаков после запятой.' };
      },
      then: async (quantity) => {
        const r = await T().call('POST', `/api/receipts/current/items/${l.id}/quantity`, {
          quantity,
        });
        await afterLineCall(r);
        T().keepFocus();
      },
    });
  }

  async function sendDiscount(l, percent, pin) {
    const r = await Kassa.call(
      'POST',
      `/api/receipts/current/items/${l.id}/discount`,
      { percent },
      { pin },
    );
    if (r.status === 403 && r.body.error === 'manager_pin_required' && !pin) {
      askPin(l, percent, r.body.message_ru);
      return;
    }
    if (await afterLineCall(r))
      T().showFlash(percent ? `Скидка ${percent} % — ${l.name}` : `Скидка снята — ${l.name}`);
    T().keepFocus();
  }

  function askPin(l, percent, why) {
    T().openKeypad({
      title: 'PIN менеджера',
      hint: `Скидка ${percent} % больше разрешённой кассиру. ${why || ''}`,
      unit: 'PIN',
      secret: true,
      parse: (text) => (text.trim() ? { value: text.trim() } : { error: 'Введите PIN.' }),
      then: (pin) => sendDiscount(l, percent, pin),
    });
  }

  function askDiscount(l) {
    const limit = T().state.status && T().state.status.discount_without_pin_percent;
    T().openKeypad({
      title: 'Скидка на строку, %',
      hint:
        `${l.name}: ${money(l.list_price || l.price)} за ${weighed(l) ? 'кг' : 'шт'}.` +
        (limit !== undefined ? ` Без PIN менеджера — до ${limit} %. 0 — снять скидку.` : ''),
      unit: '%',
      parse: (text) => {
        const m = /^\s*(\d{1,2})\s*$/.exec(text);
        return m ? { value: Number(m[1]) } : { error: 'Целое число процентов от 0 до 99.' };
      },
      then: (percent) => sendDiscount(l, percent, undefined),
    });
  }

  /* The buttons cashier.js puts on every line of a sale. */
  Kassa.lineActions = (l, i) => {
    const basket = T().state.basket;
    if (!basket.open || basket.operation === 'return') return null;
    return h(
      'div',
      { class: 'line-actions' },
      h(
        'button',
        {
          type: 'button',
          class: 'btn btn-icon line-qty',
          'aria-label': `Количество в строке ${i + 1}`,
          onclick: () => askLineQuantity(l),
        },
        'Кол-во',
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'btn btn-icon line-discount',
          'aria-label': `Скидка на строку ${i + 1}`,
          onclick: () => askDiscount(l),
        },
        '%',
      ),
    );
  };

  /* ---- the catalogue search --------------------------------------------------------- */

  let searchTimer = null;
  let searchSeq = 0;

  function product(p) {
    return h(
      'li',
      { class: 'search-item', dataset: { gtin: p.gtin } },
      h(
        'div',
        { class: 'line-main' },
        h('div', { class: 'line-name' }, p.name),
        h(
          'div',
          { class: 'line-sub muted' },
          `${money(p.price)}${p.weighed ? ' за кг' : ''} · ${p.gtin}`,
        ),
      ),
      p.marked
        ? h('span', { class: 'search-marked' }, 'маркированный: сканируйте код')
        : h(
            'button',
            {
              type: 'button',
              class: 'btn btn-primary search-add',
              onclick: () => {
                $('search').hidden = true;
                T().addScan(p.gtin);
              },
            },
            'Добавить',
          ),
    );
  }

  async function search() {
    const query = $('search-input').value.trim();
    const seq = ++searchSeq;
    if ([...query].length < 2) {
      $('search-results').replaceChildren();
      $('search-note').textContent = 'Введите хотя бы две буквы или цифры.';
      return;
    }
    const r = await T().call('POST', '/api/catalogue/search', { query });
    if (seq !== searchSeq) return; /* an older answer after a newer query */
    if (r.status !== 200) {
      $('search-note').textContent = r.body.message_ru || 'Поиск не удался.';
      return;
    }
    const found = r.body.products || [];
    $('search-note').textContent = found.length
      ? `Найдено: ${found.length}${found.length >= 20 ? ' (первые 20)' : ''}`
      : 'Ничего не найдено.';
    $('search-results').replaceChildren(...found.map(product));
  }

  function wire() {
    $('search-open').addEventListener('click', () => {
      $('search-input').value = '';
      $('search-results').replaceChildren();
      $('search-note').textContent = 'Введите хотя бы две буквы или цифры.';
      $('search').hidden = false;
      $('search-input').focus();
    });
    $('search-input').addEventListener('input', () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(search, 250);
    });
    $('search-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      clearTimeout(searchTimer);
      search();
    });
    $('search-close').addEventListener('click', () => {
      $('search').hidden = true;
      T().keepFocus();
    });
  }

  wire();
})();
