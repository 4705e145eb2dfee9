/*
 * api.js: what the cashier screen and the manager screen share.
 *
 * Both pages are plain files served by `kassa serve` on its API port, so
 * every call here is same-origin: no CORS, no cookies. The pages hold no
 * secret; the browser is given the API token once (docs/OPERATIONS.md,
 * "The pages"): either in the address's fragment (#token=..., which a
 * browser never sends to a server and which is removed from the address
 * bar at once) by the kiosk's launcher, or typed into the sign-in card.
 * It is kept in sessionStorage (this tab, until it closes) or, when the
 * terminal is to remember it, in localStorage; "Выйти" forgets it. The
 * manager PIN is never stored: manager.js keeps it in memory for a few
 * idle minutes.
 *
 * Scans: a keyboard-wedge scanner types the code and ends it with Enter.
 * The group separator (GS, 0x1D) cannot be typed into a text field, so
 * scanners send it as Ctrl+] (the ASCII control key for 0x1D), as the raw
 * character, or as a configured substitute; ScanField shows it as ␝ and
 * sends \u001d. Substitutes the till's parser repairs itself (<GS>,
 * {FNC1}, a Cyrillic keyboard layout ...) travel as typed.
 *
 * Everything a page shows from the till is put in with textContent (the
 * h() builder below), never as HTML, so a product name cannot inject markup.
 */
'use strict';

const Kassa = (() => {
  const TOKEN_KEY = 'kassa.token';
  const CASHIER_KEY = 'kassa.cashier';
  const GS = '\u001d';
  const GS_SHOWN = '\u241d'; // ␝ SYMBOL FOR GROUP SEPARATOR

  /* ---- the token ------------------------------------------------------- */

  function takeTokenFromFragment() {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (!m) return;
    try {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    } catch (e) {
      /* storage disabled: the sign-in card will ask */
    }
    history.replaceState(null, '', location.pathname + location.search);
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(TOKEN_KEY) || '';
  }

  function setToken(value, remember) {
    sessionStorage.setItem(TOKEN_KEY, value);
    if (remember) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
  }

  function forgetToken() {
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(TOKEN_KEY);
  }

  function cashier() {
    return localStorage.getItem(CASHIER_KEY) || '';
  }

  function setCashier(name) {
    if (name) localStorage.setItem(CASHIER_KEY, name);
    else localStorage.removeItem(CASHIER_KEY);
  }

  /* ---- calls ------------------------------------------------------------ */

  let onUnauthorized = null;

  /*
   * One call of the till's API: resolves to {status, ok, body} whatever
   * happened (a refusal is an answer, not an exception). status 0 means
   * the service could not be reached.
   */
  async function call(method, path, body, options) {
    const opts = options || {};
    const headers = {};
    const t = token();
    if (t) headers.Authorization = 'Bearer ' + t;
    if (opts.pin) headers['X-Manager-PIN'] = opts.pin;
    const init = { method, headers, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      return {
        status: 0,
        ok: false,
        body: {
          ok: false,
          error: 'network',
          message_ru: 'Нет связи с кассовой службой (kassa serve).',
          message_en: 'The till service cannot be reached.',
        },
      };
    }
    let j;
    try {
      j = await res.json();
    } catch (e) {
      j = {
        ok: false,
        error: 'bad_answer',
        message_ru: 'Служба ответила не JSON.',
        message_en: 'The service did not answer JSON.',
      };
    }
    if (res.status === 401 && onUnauthorized) onUnauthorized(j);
    return { status: res.status, ok: res.ok && j.ok !== false, body: j };
  }

  /* ---- formats ---------------------------------------------------------- */

  const moneyFormat = new Intl.NumberFormat('ru-RU', {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });

  /* Kopecks as "3 490,00 ₽". */
  function money(kopecks) {
    return moneyFormat.format((kopecks || 0) / 100) + '\u00a0₽';
  }

  /* "12,50" or "12.5" or "12" (roubles) as kopecks, or null. */
  function parseMoney(text) {
    const m = /^\s*(\d{1,9})(?:[.,](\d{0,2}))?\s*$/.exec(text || '');
    if (!m) return null;
    return Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
  }

  /* "0,532" or "0.532" as the API's quantity string "0.532", or null. */
  function parseQuantity(text) {
    const m = /^\s*(\d{1,6})(?:[.,](\d{0,3}))?\s*$/.exec(text || '');
    if (!m) return null;
    const q = m[1] + (m[2] ? '.' + m[2] : '');
    return Number(q) > 0 ? q : null;
  }

  /* Seconds as "2 дн 4 ч", "3 ч 12 мин", "45 с". */
  function age(seconds) {
    const s = Math.max(0, Math.floor(seconds || 0));
    if (s >= 86400) return `${Math.floor(s / 86400)} дн ${Math.floor((s % 86400) / 3600)} ч`;
    if (s >= 3600) return `${Math.floor(s / 3600)} ч ${Math.floor((s % 3600) / 60)} мин`;
    if (s >= 60) return `${Math.floor(s / 60)} мин`;
    return `${s} с`;
  }

  /* The Russian plural for n: 1 позиция, 2 позиции, 5 позиций, 21 позиция. */
  function plural(n, one, few, many) {
    const d = n % 10;
    const t = n % 100;
    if (d === 1 && t !== 11) return one;
    if (d >= 2 && d <= 4 && (t < 10 || t >= 20)) return few;
    return many;
  }

  /* How long ago: "только что", "12 мин назад". */
  function since(seconds) {
    return seconds < 60 ? 'только что' : `${age(seconds)} назад`;
  }

  function dateTime(ms) {
    if (!ms) return '—';
    return new Date(ms).toLocaleString('ru-RU', {
      day: '2-digit',
      month: '2-digit',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
    });
  }

  /* What the receipt prints before a marked line, and what it means. */
  const MARKS = {
    '[М+]': { cls: 'ok', ru: 'код проверен: ФН и Честный ЗНАК' },
    '[М-]': { cls: 'bad', ru: 'проверка кода не пройдена' },
    '[М]': { cls: 'neutral', ru: 'проверка неполная: ФН не проверил код или оператор не ответил' },
  };

  /* ---- the DOM ----------------------------------------------------------- */

  /* h('div', {class: 'x', onclick: f}, 'text', child, ...): text is text. */
  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'class') e.className = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function $(id) {
    return document.getElementById(id);
  }

  /* A base64 PNG from the API as an <img> source. */
  function pngSource(base64) {
    return base64 ? 'data:image/png;base64,' + base64 : '';
  }

  /* ---- scans ------------------------------------------------------------- */

  /* The text of a scan field as the API takes it: ␝ becomes GS. */
  function scanText(shown) {
    return shown.split(GS_SHOWN).join(GS);
  }

  /* A code for a person: GS shown as ␝. */
  function shownCode(code) {
    return (code || '').split(GS).join(GS_SHOWN);
  }

  /*
   * Makes input a scanner's field: Enter (or Tab, which some scanners send
   * as their suffix) ends a scan and calls onScan(text) with GS restored;
   * Ctrl+] or a raw 0x1D puts a GS in. The field is cleared for the next
   * scan.
   */
  function ScanField(input, onScan) {
    function insert(text) {
      const start = input.selectionStart ?? input.value.length;
      const end = input.selectionEnd ?? input.value.length;
      input.value = input.value.slice(0, start) + text + input.value.slice(end);
      input.selectionStart = input.selectionEnd = start + text.length;
    }
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || (ev.key === 'Tab' && input.value)) {
        ev.preventDefault();
        const text = scanText(input.value.trim());
        input.value = '';
        if (text) onScan(text);
        return;
      }
      const gs =
        ev.key === GS ||
        (ev.ctrlKey && !ev.altKey && (ev.code === 'BracketRight' || ev.key === ']'));
      if (gs) {
        ev.preventDefault();
        insert(GS_SHOWN);
      }
    });
    /* A raw GS that arrived as text (paste, IME): show it. */
    input.addEventListener('input', () => {
      if (input.value.includes(GS)) input.value = shownCode(input.value);
    });
  }

  /* ---- the sign-in card -------------------------------------------------- */

  /*
   * Shows the sign-in card over the page until a token works (GET
   * /api/status answers 200), then calls done(status). reason: why it is
   * shown (the API's message after a 401), or nothing.
   */
  function signIn(reason, done) {
    const old = $('signin');
    if (old) old.remove();
    const tokenInput = h('input', {
      id: 'signin-token',
      type: 'password',
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: 'токен из [till] api_token',
    });
    const cashierInput = h('input', {
      id: 'signin-cashier',
      type: 'text',
      autocomplete: 'off',
      value: cashier(),
      placeholder: 'Фамилия И. О.',
    });
    const remember = h('input', { id: 'signin-remember', type: 'checkbox' });
    const error = h('p', { class: 'form-error', role: 'alert' }, reason || '');
    const card = h(
      'div',
      { id: 'signin', class: 'overlay' },
      h(
        'form',
        {
          class: 'card signin',
          onsubmit: async (ev) => {
            ev.preventDefault();
            setToken(tokenInput.value.trim(), remember.checked);
            setCashier(cashierInput.value.trim());
            const r = await call('GET', '/api/status');
            if (r.status === 200) {
              card.remove();
              done(r.body);
            } else {
              error.textContent = r.body.message_ru || 'Не удалось войти.';
            }
          },
        },
        h('h2', {}, 'Вход на кассу'),
        h(
          'p',
          { class: 'muted' },
          'Токен доступа выдаёт администратор (kassa.conf, [till] api_token).',
        ),
        h('label', { for: 'signin-token' }, 'Токен API'),
        tokenInput,
        h('label', { for: 'signin-cashier' }, 'Кассир'),
        cashierInput,
        h('label', { class: 'check' }, remember, ' Запомнить на этом терминале'),
        error,
        h('button', { class: 'btn btn-primary btn-block', type: 'submit' }, 'Войти'),
      ),
    );
    document.body.append(card);
    tokenInput.focus();
  }

  takeTokenFromFragment();
  /* A token given to a page already open (only the fragment changed, so
   * nothing reloads): take it and start again with it. */
  window.addEventListener('hashchange', () => {
    if (!/(?:^#|&)token=/.test(location.hash)) return;
    takeTokenFromFragment();
    location.reload();
  });

  /* A touch keypad: one button per key into the input; '⌫' deletes the
  ** last character, 'C' clears. Shared by the weight pad and the PIN pad. */
  function keypad(keysId, inputId, keys) {
    $(keysId).replaceChildren(
      ...keys.map((k) =>
        h(
          'button',
          {
            type: 'button',
            class: 'btn key',
            onclick: () => {
              const input = $(inputId);
              input.value = k === 'C' ? '' : k === '⌫' ? input.value.slice(0, -1) : input.value + k;
              input.focus();
            },
          },
          k,
        ),
      ),
    );
  }

  return {
    GS,
    GS_SHOWN,
    call,
    token,
    forgetToken,
    cashier,
    setCashier,
    money,
    parseMoney,
    parseQuantity,
    age,
    since,
    plural,
    dateTime,
    MARKS,
    h,
    $,
    keypad,
    pngSource,
    scanText,
    shownCode,
    ScanField,
    signIn,
    set onUnauthorized(f) {
      onUnauthorized = f;
    },
  };
})();
