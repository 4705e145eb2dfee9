/*
 * pages.js SCENARIO.json cashier|manager: the cashier and manager screens in Debian's
 * chromium, driven by playwright-core (executablePath = the system
 * chromium; no browser is downloaded).
 *
 * run.py starts the till and writes the scenario: the page's address, the
 * API token (given to the page in the address's fragment, as a kiosk
 * launcher would), the manager PIN, and genuine codes from kassa-operator.
 * It runs the cashier part, delivers the documents as a store's timer
 * would (`kassa ofd flush`: the operator must know of the sale before it
 * takes the return), then the manager part.
 * Every step is checked on what a person sees: the focused field, lines
 * with their marks, the red banner's Russian text, colour and size, the
 * receipt and its QR picture, the change, the label preview, the drawer,
 * the X and Z reports and a correction. Each page is looked at
 * at 1024×768 with touch enabled and must never scroll sideways; a
 * console error (a script error, a CSP refusal) fails the run.
 * Screenshots go to the artifacts folder; the label the manager saw and
 * the code it names go to scenario.out for run.py to read back with
 * libdmtx.
 *
 * The phases warning and stopped are a remote shop's till at 49 and 73
 * hours of its three-day batch (run.py moves its clock): what the cashier
 * reads about the deadline, a 4-character tail the operator answered for,
 * the 72-hour refusal read whole, and a refused first scan that leaves a
 * receipt the cashier can cancel and the manager can open a return over.
 *
 * Every answer `kassa serve` gives the pages (the API's and the pages'
 * files) is appended to $KASSA_CONTRACT_RECORD when it is set, in
 * tests/integration/shop.py's format, for the contract test
 * (tests/contract/check.mjs checks each against docs/openapi.yaml).
 *
 * Prints "FAIL name detail" per failed check and "pages.js: N passed, M
 * failed"; exit 1 on any failure.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const sc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const PHASE = process.argv[3];
const GS = '\u001d';
const TIMEOUT = 15000;
let passed = 0;
let failed = 0;
const consoleErrors = [];
const out = {};

function check(name, cond, detail) {
  if (cond) passed++;
  else {
    failed++;
    const d = detail === undefined ? '' : JSON.stringify(detail);
    console.log(`FAIL ${name} ${d.slice(0, 1500)}`);
  }
  return cond;
}

/* The contract's recorder: each answer of one of the scenario's servers
 * (base, remote49, remote73), its body read while the page lives; flush()
 * waits for them all and appends them to $KASSA_CONTRACT_RECORD. An
 * answer whose body the browser no longer holds fails a check (an
 * unchecked answer must not pass unseen). */
const recorder = {
  pending: [],
  origins: [sc.base, sc.remote49, sc.remote73].filter(Boolean).map((u) => new URL(u).origin),
  watch(context) {
    if (!process.env.KASSA_CONTRACT_RECORD) return;
    context.on('response', (resp) => {
      const url = new URL(resp.url());
      if (!this.origins.includes(url.origin)) return;
      this.pending.push(this.entry(resp, url));
    });
  },
  async entry(resp, url) {
    const contentType = resp.headers()['content-type'] || '';
    let body = null;
    if (contentType.includes('json')) {
      try {
        body = JSON.parse(await resp.text());
      } catch (e) {
        check(`recorded ${resp.request().method()} ${url.pathname}: body read`, false, String(e));
        return null;
      }
    }
    return {
      port: 'api', method: resp.request().method(), path: url.pathname,
      query: url.search.slice(1), status: resp.status(), contentType, body,
    };
  },
  async flush() {
    const lines = (await Promise.all(this.pending)).filter(Boolean);
    if (process.env.KASSA_CONTRACT_RECORD && lines.length)
      fs.appendFileSync(process.env.KASSA_CONTRACT_RECORD,
        lines.map((r) => JSON.stringify(r) + '\n').join(''));
  },
};

/* Spaces of every kind (Intl puts narrow no-break spaces in numbers) as one. */
const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();

async function shot(page, name) {
  await page.screenshot({ path: path.join(sc.artifacts, name) });
}

async function noSideScroll(page, where) {
  const w = await page.evaluate(() => [
    document.documentElement.scrollWidth,
    document.documentElement.clientWidth,
    document.body.scrollWidth,
  ]);
  check(`${where}: no horizontal scrolling at 1024×768`, w[0] <= 1024 && w[2] <= 1024, w);
}

async function focusedId(page) {
  return page.evaluate(() => (document.activeElement ? document.activeElement.id : ''));
}

/* A keyboard-wedge scanner: every character typed, GS as Ctrl+], Enter. */
async function typeScan(page, code) {
  const parts = code.split(GS);
  for (let i = 0; i < parts.length; i++) {
    if (i) await page.keyboard.press('Control+BracketRight');
    await page.keyboard.type(parts[i], { delay: 0 });
  }
  await page.keyboard.press('Enter');
}

async function visible(page, selector) {
  try {
    await page.waitForSelector(selector, { state: 'visible', timeout: TIMEOUT });
    return true;
  } catch (e) {
    return false;
  }
}

async function text(page, selector) {
  return norm(await page.locator(selector).first().innerText());
}

async function lineCount(page, list) {
  return page.locator(`${list} > li`).count();
}

async function waitLines(page, list, n) {
  try {
    await page.waitForFunction(
      ([l, k]) => document.querySelectorAll(`${l} > li`).length === k,
      [list, n],
      { timeout: TIMEOUT },
    );
    return true;
  } catch (e) {
    return false;
  }
}

async function tapKeys(page, container, keys) {
  for (const k of keys) await page.locator(`${container} .key`, { hasText: k }).first().tap();
}

async function cashier(page) {
  /* Without a token the page asks for one; a wrong one is refused in the
   * service's words (one wrong try: the limiter locks at five). */
  await page.goto(`${sc.base}/`);
  check('no token: the sign-in card', await visible(page, '#signin'));
  await shot(page, 'cashier-signin.png');
  await page.locator('#signin-token').fill('not-the-token');
  await page.locator('#signin button[type=submit]').tap();
  await page.waitForFunction(
    () => document.querySelector('#signin .form-error').textContent !== '',
    null,
    { timeout: TIMEOUT },
  );
  check(
    'wrong token: refused in Russian',
    (await text(page, '#signin .form-error')) === 'Нужен действующий токен API.',
    await text(page, '#signin .form-error'),
  );
  /* The launcher's address on the open page: only the fragment changes, so
   * the page takes the token and loads again. */
  const reloaded = page.waitForEvent('load');
  await page.goto(`${sc.base}/#token=${encodeURIComponent(sc.token)}`);
  await reloaded;
  check('the token leaves the address bar at once', !page.url().includes('token'), page.url());
  const stored = await page.evaluate(() => sessionStorage.getItem('kassa.token'));
  check('the token is kept for this tab only', stored === sc.token);

  /* The shift is closed: the screen says so and opens it. */
  check('closed shift: the dialog', await visible(page, '#shift'));
  check('closed shift: its title', (await text(page, '#shift-title')) === 'Смена закрыта');
  await shot(page, 'cashier-shift.png');
  await page.locator('#shift-ok').tap();
  await page.waitForSelector('#shift', { state: 'hidden', timeout: TIMEOUT });
  await page.waitForFunction(
    () => /Смена № \d+/.test(document.getElementById('shift-info').textContent),
    null,
    { timeout: TIMEOUT },
  );
  check('shift opened from the screen', /Смена № \d+/.test(await text(page, '#shift-info')));
  await page.waitForFunction(() => document.activeElement.id === 'scan', null, {
    timeout: TIMEOUT,
  });
  check('the scan field has the focus', (await focusedId(page)) === 'scan');
  await shot(page, 'cashier-empty.png');
  await noSideScroll(page, 'cashier, empty');

  /* A marked good, typed as a scanner types it (GS as Ctrl+]). */
  await typeScan(page, sc.sale_code);
  check('marked good: one line', await waitLines(page, '#lines', 1));
  check(
    'marked good: [М+] before it',
    (await text(page, '#lines > li:nth-child(1) .mark')) === '[М+]',
  );
  check(
    'marked good: its name',
    (await text(page, '#lines > li:nth-child(1) .line-name')).startsWith('Джинсы'),
  );
  check(
    'marked good: the decision in words',
    (await text(page, '#lines > li:nth-child(1) .decision')).includes('проверен'),
  );
  /* The flash lasts 1.4 s: count its showings rather than race it. */
  check(
    'marked good: green flash with the line',
    (await page.locator('#flash').getAttribute('data-shown')) === '1' &&
      (await page.locator('#flash-text').textContent()).startsWith('[М+] Джинсы'),
  );
  check(
    'marked good: the total',
    (await text(page, '#total')) === '3 490,00 ₽',
    await text(page, '#total'),
  );

  /* A tap elsewhere gives the focus back to the scan field. */
  await page.locator('.total-box').tap();
  await page
    .waitForFunction(() => document.activeElement.id === 'scan', null, { timeout: 3000 })
    .catch(() => {});
  check(
    'the focus comes back after a tap',
    (await focusedId(page)) === 'scan',
    await focusedId(page),
  );

  await typeScan(page, sc.bread);
  check('plain good: second line', await waitLines(page, '#lines', 2));

  /* A weighed good: the till asks for the weight, the keypad gives it. */
  await typeScan(page, sc.bananas);
  check('weighed good: the keypad opens', await visible(page, '#keypad'));
  check('weighed good: it says so', (await text(page, '#keypad-title')) === 'Весовой товар');
  await tapKeys(page, '#keypad', ['0', ',', '5', '3', '2']);
  await page.locator('#keypad-ok').tap();
  check('weighed good: third line', await waitLines(page, '#lines', 3));
  check(
    'weighed good: 0,532 kg',
    (await text(page, '#lines > li:nth-child(3) .line-sum')).includes('0,532'),
    await text(page, '#lines > li:nth-child(3) .line-sum'),
  );
  const totalBefore = await text(page, '#total');

  /* A counterfeit: the red banner, in Russian, large; nothing added. The
   * scan arrives with raw GS characters this time. */
  await page.waitForFunction(() => document.activeElement.id === 'scan', null, {
    timeout: TIMEOUT,
  });
  await page.keyboard.insertText(sc.fake_code);
  await page.keyboard.press('Enter');
  check('refusal: the banner', await visible(page, '#banner'));
  const banner = await page.evaluate(() => {
    const b = document.getElementById('banner');
    const m = document.getElementById('banner-message');
    return {
      reason: b.dataset.reason,
      message: m.textContent,
      background: getComputedStyle(b).backgroundColor,
      size: parseFloat(getComputedStyle(m).fontSize),
      weight: getComputedStyle(m).fontWeight,
      width: b.getBoundingClientRect().width,
    };
  });
  check('refusal: the reason is counterfeit', banner.reason === 'counterfeit', banner);
  check(
    'refusal: the Russian reason, as the API gives it',
    banner.message === sc.counterfeit_ru,
    banner,
  );
  check('refusal: red', banner.background === 'rgb(200, 30, 30)', banner);
  check('refusal: large bold type', banner.size >= 28 && Number(banner.weight) >= 700, banner);
  check('refusal: wide', banner.width >= 560, banner);
  check('refusal: the receipt is unchanged', (await lineCount(page, '#lines')) === 3);
  check('refusal: the total is unchanged', (await text(page, '#total')) === totalBefore);
  check('refusal: the field keeps the focus', (await focusedId(page)) === 'scan');
  await page.waitForTimeout(450); /* the shake settles */
  await shot(page, 'cashier-refused.png');
  await noSideScroll(page, 'cashier, refused');

  /* The next scan clears the banner; a line is removed again. */
  await typeScan(page, sc.bread);
  check('a new scan clears the banner', await waitLines(page, '#lines', 4));
  check('banner gone', await page.locator('#banner').isHidden());
  await page.locator('#lines > li:nth-child(4) .line-remove').tap();
  check('line removed', await waitLines(page, '#lines', 3));
  check('total back after the removal', (await text(page, '#total')) === totalBefore);

  /* Mixed payment: 1000 roubles cash, the rest by card. */
  await page.locator('#pay-mixed').tap();
  check('mixed payment: the keypad', await visible(page, '#keypad'));
  await page.keyboard.type('1000');
  await page.keyboard.press('Enter');
  check('closed: the receipt', await visible(page, '#closed'));
  const receipt = await page.locator('#closed-text').innerText();
  check('closed: [М+] before the marked line', /\[М\+\] Джинсы/.test(receipt), receipt);
  check(
    'closed: the weighed line',
    receipt.includes('0.532') || receipt.includes('0,532'),
    receipt,
  );
  check(
    'closed: cash part named',
    norm(await text(page, '#closed-meta')).includes('наличными 1 000,00 ₽'),
    await text(page, '#closed-meta'),
  );
  const qr = await page.evaluate(() => {
    const i = document.getElementById('closed-qr');
    return { w: i.naturalWidth, h: i.naturalHeight, src: i.src.slice(0, 22) };
  });
  check(
    'closed: the QR picture',
    qr.w > 100 && qr.w === qr.h && qr.src === 'data:image/png;base64,',
    qr,
  );
  await shot(page, 'cashier-closed.png');
  await noSideScroll(page, 'cashier, closed');

  /* What window.print() prints: the receipt alone. */
  await page.emulateMedia({ media: 'print' });
  const printView = await page.evaluate(() => ({
    area: getComputedStyle(document.getElementById('print-area')).display,
    main: getComputedStyle(document.querySelector('.cashier-main')).display,
    overlay: getComputedStyle(document.getElementById('closed')).display,
    text: document.getElementById('print-text').textContent.length,
    qr: document.getElementById('print-qr').naturalWidth,
  }));
  check(
    'print view: only the receipt',
    printView.area === 'block' &&
      printView.main === 'none' &&
      printView.overlay === 'none' &&
      printView.text > 100 &&
      printView.qr > 100,
    printView,
  );
  await shot(page, 'cashier-print.png');
  await page.emulateMedia({ media: 'screen' });
  await page.locator('#closed-next').tap();
  check('next receipt: empty', await visible(page, '#lines-empty'));

  /* Cash with change: bread (55,00 ₽), the customer hands over 100 ₽. */
  await page.waitForFunction(() => document.activeElement.id === 'scan', null, {
    timeout: TIMEOUT,
  });
  await typeScan(page, sc.bread);
  check('change sale: one line', await waitLines(page, '#lines', 1));
  await page.locator('#pay-cash').tap();
  check('cash: the tender dialog', await visible(page, '#tender'));
  check('cash: what is due', (await text(page, '#tender-due')) === '55,00 ₽');
  check(
    'cash: the likely notes offered',
    (await text(page, '#tender-quick')).includes('100,00 ₽'),
    await text(page, '#tender-quick'),
  );
  await tapKeys(page, '#tender', ['5', '0']);
  check(
    'cash: 50 ₽ is not enough, said in Russian',
    (await text(page, '#tender-change')) === '—' &&
      (await text(page, '#tender-error')) === 'Получено меньше, чем 55,00 ₽.',
    [await text(page, '#tender-change'), await text(page, '#tender-error')],
  );
  await page.locator('#tender-ok').tap();
  check('cash: not paid with too little', await page.locator('#tender').isVisible());
  await page.locator('#tender-input').fill('');
  await tapKeys(page, '#tender', ['1', '0', '0']);
  await page
    .waitForFunction(() => document.getElementById('tender-change').textContent !== '—', null, {
      timeout: 3000,
    })
    .catch(() => {});
  check(
    'cash: the change 45,00 ₽ shown before paying',
    (await text(page, '#tender-change')) === '45,00 ₽',
    await text(page, '#tender-change'),
  );
  await shot(page, 'cashier-change.png');
  await noSideScroll(page, 'cashier, change');
  await page.locator('#tender-ok').tap();
  check('cash: closed', await visible(page, '#closed'));
  check(
    'cash: the closed receipt says what was handed over and the change',
    (await text(page, '#closed-change')) === 'Получено 100,00 ₽ · Сдача 45,00 ₽',
    await text(page, '#closed-change'),
  );
  await shot(page, 'cashier-change-closed.png');
  await page.locator('#closed-next').tap();
  check('after the change sale: empty', await visible(page, '#lines-empty'));

  /* The catalogue by name: a marked good is only named, bread is added. */
  await page.locator('#search-open').tap();
  check('search: the dialog', await visible(page, '#search'));
  await page.locator('#search-input').type('джинсы');
  await page.waitForFunction(
    () => document.querySelectorAll('#search-results > li').length > 0,
    null,
    { timeout: TIMEOUT },
  );
  check(
    'search: a marked good asks for its code, no add button',
    (await text(page, '#search-results > li:nth-child(1)')).includes(
      'маркированный: сканируйте код',
    ) && (await page.locator('#search-results > li:nth-child(1) .search-add').count()) === 0,
    await text(page, '#search-results'),
  );
  await page.locator('#search-input').fill('');
  await page.locator('#search-input').type('БОРОДИН');
  await page.waitForFunction(
    () => /Бородинский/.test(document.getElementById('search-results').textContent),
    null,
    { timeout: TIMEOUT },
  );
  check(
    'search: upper case finds the bread, with its price',
    (await text(page, '#search-results > li:nth-child(1)')).includes('55,00 ₽'),
    await text(page, '#search-results'),
  );
  await page.locator('#search-results > li:nth-child(1) .search-add').tap();
  check('search: added as a line', await waitLines(page, '#lines', 1));

  /* Its quantity 3, then 5 % off (the cashier's own), then 20 % (the PIN). */
  await page.locator('#lines > li:nth-child(1) .line-qty').tap();
  check('quantity: the keypad', await visible(page, '#keypad'));
  await tapKeys(page, '#keypad', ['3']);
  await page.locator('#keypad-ok').tap();
  await page.waitForFunction(
    () => /165,00/.test(document.getElementById('total').textContent),
    null,
    { timeout: TIMEOUT },
  );
  check('quantity 3: 165,00 ₽', (await text(page, '#total')) === '165,00 ₽');
  await page.locator('#lines > li:nth-child(1) .line-discount').tap();
  check(
    'discount: the limit without a PIN named',
    (await text(page, '#keypad-hint')).includes('до 10 %'),
    await text(page, '#keypad-hint'),
  );
  await tapKeys(page, '#keypad', ['5']);
  await page.locator('#keypad-ok').tap();
  /* 55,00 - 2,75 = 52,25 a loaf, x 3 = 156,75 */
  await page.waitForFunction(
    () => /156,75/.test(document.getElementById('total').textContent),
    null,
    { timeout: TIMEOUT },
  );
  check('5 %: 156,75 ₽', (await text(page, '#total')) === '156,75 ₽');
  check(
    '5 %: the line says so with the old price',
    (await text(page, '#lines > li:nth-child(1) .line-discount-note')) ===
      'скидка 5 % · было 55,00 ₽',
  );
  await page.locator('#lines > li:nth-child(1) .line-discount').tap();
  await tapKeys(page, '#keypad', ['2', '0']);
  await page.locator('#keypad-ok').tap();
  await page.waitForFunction(
    () => document.getElementById('keypad-title').textContent === 'PIN менеджера',
    null,
    { timeout: TIMEOUT },
  );
  check(
    '20 %: the manager PIN asked, hidden',
    (await page.locator('#keypad-input').getAttribute('type')) === 'password',
  );
  await tapKeys(page, '#keypad', sc.pin.split(''));
  await page.locator('#keypad-ok').tap();
  /* 20 % of the list price, not of 52,25: 44,00 a loaf, x 3 = 132,00 */
  await page.waitForFunction(
    () => /132,00/.test(document.getElementById('total').textContent),
    null,
    { timeout: TIMEOUT },
  );
  check('20 % with the PIN: 132,00 ₽', (await text(page, '#total')) === '132,00 ₽');
  check(
    'the keypad is a plain field again',
    (await page.locator('#keypad-input').getAttribute('type')) === 'text',
  );
  await shot(page, 'cashier-discount.png');
  await noSideScroll(page, 'cashier, discount');
  /* Half of a marked pack: the «×» preset takes "1/2", the scan goes with
   * "fraction" (1291): 3 490,00 / 2 = 1 745,00, the line says 1/2. */
  await page.locator('#qty').tap();
  check('fraction: the preset keypad', await visible(page, '#keypad'));
  await page.locator('#keypad-input').fill('1/2');
  await page.locator('#keypad-ok').tap();
  check('fraction: the preset shown', (await text(page, '#qty-badge')) === '× 1/2');
  await typeScan(page, sc.fraction_code);
  check('fraction: a second line', await waitLines(page, '#lines', 2));
  check(
    'fraction: half a pack, 1 745,00 ₽, shown as 1/2',
    (await text(page, '#lines > li:nth-child(2)')).includes('1 745,00') &&
      (await text(page, '#lines > li:nth-child(2)')).includes('1/2 упак.'),
    await text(page, '#lines > li:nth-child(2)'),
  );
  await page.locator('#qty').tap();
  await page.locator('#keypad-input').fill('2/2');
  await page.locator('#keypad-ok').tap();
  check(
    'fraction: 2/2 is no part, the keypad says so',
    (await text(page, '#keypad-error')).includes('1/4'),
    await text(page, '#keypad-error'),
  );
  await page.locator('#keypad-cancel').tap();
  /* Not sold: the manager's drawer figures count the cash above only. */
  await page.locator('#cancel').tap();
  await page.locator('#cancel').tap();
  check('the discounted receipt cancelled', await visible(page, '#lines-empty'));
}

/* The «Смена и касса» pane: its visible text, the drawer card's facts. */
async function officeDone(page) {
  await page.waitForFunction(
    () =>
      !document.getElementById('office-done').hidden ||
      !document.getElementById('office-banner').hidden,
    null,
    { timeout: TIMEOUT },
  );
  return {
    done: (await page.locator('#office-done').isVisible()) ? await text(page, '#office-done') : '',
    refused: (await page.locator('#office-banner').isVisible())
      ? await text(page, '#office-banner-message')
      : '',
  };
}

async function drawerShows(page, words) {
  try {
    await page.waitForFunction(
      (w) => document.getElementById('office-drawer').innerText.replace(/\s+/g, ' ').includes(w),
      words,
      { timeout: TIMEOUT },
    );
    return true;
  } catch (e) {
    return false;
  }
}

/* The row of the report's table for an operation ("receipts.sale"), as its cells' texts. */
async function reportRow(page, caption, op) {
  return page.evaluate(
    ([c, o]) => {
      const t = [...document.querySelectorAll('#report-tables table')].find(
        (x) => x.caption && x.caption.textContent === c,
      );
      const r = t && t.querySelector(`tr[data-op="${o}"]`);
      return r ? [...r.children].map((x) => x.textContent.replace(/\s+/g, ' ').trim()) : null;
    },
    [caption, op],
  );
}

async function office(page) {
  /* The money of the day, worked out from what the two phases did in cash:
   * the mixed payment's 1 000,00 and the bread's 55,00 in, the return's
   * 6 980,00 out; the manager puts 10 000,00 in first: 4 075,00. */
  await page.locator('#tab-office').tap();
  check('office: the pane', await visible(page, '#pane-office'));
  check('office: the shift is open', await drawerShows(page, 'открыта'));
  await page.locator('#cash-amount').fill('10000');
  await page.locator('#cash-in').tap();
  let r = await officeDone(page);
  check(
    'cash in: done, the drawer in words',
    r.done === '✓ Внесено 10 000,00 ₽; в ящике 4 075,00 ₽',
    r,
  );
  check('cash in: the drawer card', await drawerShows(page, 'Наличных в ящике 4 075,00 ₽'));
  await page.locator('#cash-amount').fill('500');
  await page.locator('#cash-out').tap();
  check('cash out: the drawer card', await drawerShows(page, 'Наличных в ящике 3 575,00 ₽'));
  check('cash out: counted', await drawerShows(page, 'Выплачено 500,00 ₽ · 1 раз'));
  await page.locator('#cash-amount').fill('100000');
  await page.locator('#cash-out').tap();
  await page.locator('#office-banner').waitFor({ state: 'visible', timeout: TIMEOUT });
  check(
    'cash out past the drawer: refused in the till\'s words',
    (await text(page, '#office-banner-message')) ===
      'Денежный ящик: в денежном ящике нет такой суммы наличных.',
    await text(page, '#office-banner-message'),
  );
  check('cash out refused: the drawer unchanged', await drawerShows(page, '3 575,00 ₽'));
  await shot(page, 'manager-cash.png');
  await noSideScroll(page, 'manager, cash');

  /* X: two sales (cash 1 055,00), one return (6 980,00 cash), the drawer. */
  await page.locator('#report-x').tap();
  check('X: shown', await visible(page, '#report-view'));
  check('X: titled', (await text(page, '#report-title')).startsWith('X-отчёт · ФД'));
  const sale = await reportRow(page, 'Итоги смены', 'receipts.sale');
  check(
    'X: two sales, 1 055,00 ₽ of them in cash',
    sale && sale[0] === 'Приход' && sale[1] === '2' && sale[3] === '1 055,00 ₽',
    sale,
  );
  const ret = await reportRow(page, 'Итоги смены', 'receipts.sale_return');
  check(
    'X: the return 6 980,00 ₽ in cash',
    ret && ret[1] === '1' && ret[2] === '6 980,00 ₽' && ret[3] === '6 980,00 ₽',
    ret,
  );
  check(
    'X: the drawer in the report',
    (await text(page, '#report-tables .drawer-balance')) === 'Наличных в ящике 3 575,00 ₽',
    await text(page, '#report-tables .drawer-balance'),
  );
  const xText = await page.locator('#report-text').innerText();
  check(
    'X: as printed beside it',
    xText.includes('СОСТОЯНИИ РАСЧЕТОВ') && xText.includes('=3575.00'),
    xText,
  );
  await shot(page, 'manager-x-report.png');
  await noSideScroll(page, 'manager, X-report');

  /* A correction: first without its reason (refused), then 100 ₽ cash at 22 %. */
  await page.locator('#corr-cash').fill('100');
  await page.locator('#corr-vat').selectOption('22');
  await page.locator('#corr-submit').tap();
  await page.locator('#office-banner').waitFor({ state: 'visible', timeout: TIMEOUT });
  check(
    'correction without a reason: refused, naming it',
    (await text(page, '#office-banner-message')).includes('Поле «reason»: обязательно'),
    await text(page, '#office-banner-message'),
  );
  await page.locator('#corr-reason').fill('Продажа без чека 05.12');
  await page.locator('#corr-submit').tap();
  await page.waitForFunction(
    () => /Чек коррекции ФД/.test(document.getElementById('office-done-text').textContent),
    null,
    { timeout: TIMEOUT },
  );
  check(
    'correction: done, in words',
    /^Чек коррекции ФД \d+: приход 100,00 ₽ по своей инициативе$/.test(
      await text(page, '#office-done-text'),
    ),
    await text(page, '#office-done-text'),
  );
  const cText = await page.locator('#report-text').innerText();
  check(
    'correction: its receipt, at 22 %',
    /КОРРЕКЦ/.test(cText) && cText.includes('НДС 22%') && cText.includes('=18.03'),
    cText,
  );
  check('correction: the drawer counts its cash', await drawerShows(page, '3 675,00 ₽'));
  await shot(page, 'manager-correction.png');
  await noSideScroll(page, 'manager, correction');

  /* Z: a second tap closes the shift; the report has the correction. */
  await page.locator('#report-z').tap();
  check('Z: asks to confirm', await visible(page, '#report-z-confirm'));
  await page.locator('#report-z-confirm').tap();
  await page.waitForFunction(
    () => /^Z-отчёт/.test(document.getElementById('report-title').textContent),
    null,
    { timeout: TIMEOUT },
  );
  const corr = await reportRow(page, 'Итоги смены', 'corrections.sale');
  check(
    'Z: the correction in its totals',
    corr && corr[0] === 'Коррекция: Приход' && corr[1] === '1' && corr[2] === '100,00 ₽',
    corr,
  );
  check(
    'Z: the drawer holds 3 675,00 ₽',
    (await text(page, '#report-tables .drawer-balance')) === 'Наличных в ящике 3 675,00 ₽',
  );
  check(
    'Z: printed as the shift close',
    (await page.locator('#report-text').innerText()).includes('ЗАКРЫТИИ СМЕНЫ'),
  );
  check('Z: the shift is closed', await drawerShows(page, 'Смена закрыта'));
  await shot(page, 'manager-z-report.png');
  await noSideScroll(page, 'manager, Z-report');

  /* The FN close: refused while documents wait for the OFD, in its words. */
  await page.locator('#fn-close').tap();
  await page.locator('#fn-close-confirm').tap();
  await page.locator('#office-banner').waitFor({ state: 'visible', timeout: TIMEOUT });
  check(
    'FN close while documents are owed: refused',
    (await text(page, '#office-banner-message')).startsWith('ФН нельзя закрыть: не переданы'),
    await text(page, '#office-banner-message'),
  );
  await page.locator('#fn-new-number').fill('9999078900007999');
  await page.locator('#fn-replace').tap();
  await page.waitForFunction(
    () => /Замена ФН/.test(document.getElementById('office-banner-message').textContent),
    null,
    { timeout: TIMEOUT },
  );
  check('FN replace before the close: refused', true);
}

async function manager(page) {
  await page.goto(`${sc.base}/manager#token=${encodeURIComponent(sc.token)}`);
  check('manager: the PIN first', await visible(page, '#pin'));
  await shot(page, 'manager-pin.png');
  await tapKeys(page, '#pin', ['0', '0', '0', '0']);
  await page.locator('#pin-ok').tap();
  await page.waitForFunction(() => document.getElementById('pin-error').textContent !== '', null, {
    timeout: TIMEOUT,
  });
  check(
    'manager: a wrong PIN is refused in Russian',
    (await text(page, '#pin-error')) === 'Неверный PIN менеджера.',
    await text(page, '#pin-error'),
  );
  await page.locator('#pin-input').fill('');
  await tapKeys(page, '#pin', sc.pin.split(''));
  await page.locator('#pin-ok').tap();
  await page.waitForSelector('#pin', { state: 'hidden', timeout: TIMEOUT });
  check('manager: the PIN opens the screen', await visible(page, '#pane-overview'));
  await page.waitForFunction(
    () => document.getElementById('facts-fn').textContent.length > 0,
    null,
    { timeout: TIMEOUT },
  );
  const status = await page.evaluate(async () => {
    const r = await fetch('/api/status', {
      headers: { Authorization: 'Bearer ' + sessionStorage.getItem('kassa.token') },
    });
    return r.json();
  });
  const fn = await text(page, '#facts-fn');
  check(
    'overview: the FN',
    fn.includes(sc.fn_number) && fn.includes('фискальный режим') && fn.includes('маркировка'),
    fn,
  );
  check(
    'overview: the key age',
    /Ключи проверки обновлены (сегодня|\d+ дн назад) \(\d\d\.\d\d\.\d{4}/.test(fn),
    fn,
  );
  const ob = await text(page, '#facts-outbox');
  const unsent = status.outbox.unsent_documents;
  check(
    'overview: unsent documents as the status says',
    unsent
      ? new RegExp(`Документы без подтверждения ОФД ${unsent}, старейший`).test(ob)
      : ob.includes('Документы без подтверждения ОФД нет'),
    [unsent, ob],
  );
  check('overview: the three-day batch', ob.includes('Трёхдневный пакет'), ob);
  const ca = await text(page, '#facts-cache');
  /* Synced just before the test: fresh. The last sync's time is shown as
   * the status gives it (a date, or "ни разу" for 0). */
  check(
    'overview: cache freshness',
    status.cache.stale === false &&
      ca.includes('Свежесть актуален') &&
      (status.cache.last_sync_ms
        ? /Синхронизация \d\d\.\d\d\.\d{4}/.test(ca)
        : ca.includes('Синхронизация ни разу')),
    [status.cache, ca],
  );
  check(
    "overview: the warnings are the status's",
    status.warnings.length === 0
      ? (await text(page, '#warnings')) === 'Предупреждений нет'
      : (await page.locator('#warnings > li.warning').count()) === status.warnings.length,
    [status.warnings, await text(page, '#warnings')],
  );
  await shot(page, 'manager-overview.png');
  await noSideScroll(page, 'manager, overview');

  /* A return: the sold code, and the same good without a code. */
  await page.locator('#tab-returns').tap();
  await page.locator('#return-open').tap();
  check('return: opened', await visible(page, '#return-work'));
  await page.locator('#return-scan').focus();
  await typeScan(page, sc.sale_code);
  check('return: line by code', await waitLines(page, '#return-lines', 1));
  /* Without a code the return names its sale (issue 18): without it, or
   * naming the pair just returned by its code, it is refused. */
  await page.locator('#return-gtin').fill(sc.jeans_ean);
  await page.locator('#return-nocode-form button').tap();
  await page
    .waitForFunction(() => !document.getElementById('return-banner').hidden, null, {
      timeout: TIMEOUT,
    })
    .catch(() => {});
  check(
    'return: without a code, the sale is asked for',
    (await text(page, '#return-banner-message')).includes('ФД'),
    await text(page, '#return-banner-message'),
  );
  await page.locator('#return-sale-fd').fill(String(sc.second_pair_fd));
  await page.locator('#return-sale-line').fill('3');
  await page.locator('#return-nocode-form button').tap();
  await page
    .waitForFunction(
      () => document.getElementById('return-banner').dataset.reason === 'sale_line',
      null,
      { timeout: TIMEOUT },
    )
    .catch(() => {});
  check(
    'return: a line without this good is refused (sale_line)',
    (await page.locator('#return-banner').getAttribute('data-reason')) === 'sale_line',
    await text(page, '#return-banner-message'),
  );
  await page.locator('#return-sale-line').fill('2');
  await page.locator('#return-nocode-form button').tap();
  check('return: line without a code', await waitLines(page, '#return-lines', 2));
  check(
    'return: the without-code line says so',
    (await text(page, '#return-lines > li:nth-child(2) .mark')) === 'без кода',
  );
  check(
    'return: the total',
    (await text(page, '#return-total')) === '6 980,00 ₽',
    await text(page, '#return-total'),
  );
  await shot(page, 'manager-return-open.png');
  await page.locator('#return-cash').tap();
  check('return: closed', await visible(page, '#return-done'));
  check('return: its receipt', (await page.locator('#return-text').innerText()).includes('Джинсы'));
  await shot(page, 'manager-return.png');
  await noSideScroll(page, 'manager, return');

  /* Remarking the good that came back without a code. */
  await page.locator('#tab-remark').tap();
  check('remark: one good waits', await waitLines(page, '#pending', 1));
  check('remark: named', (await text(page, '#pending > li .line-name')).startsWith('Джинсы'));
  await page.locator('#pending > li button').tap();
  check('remark: the label', await visible(page, '#label-card'));
  await page.waitForFunction(() => document.getElementById('label-img').naturalWidth > 0, null, {
    timeout: TIMEOUT,
  });
  const label = await page.evaluate(() => {
    const i = document.getElementById('label-img');
    const facts = [...document.querySelectorAll('#label-facts dt')].map((dt) => [
      dt.textContent,
      dt.nextElementSibling.textContent,
    ]);
    return {
      w: i.naturalWidth,
      h: i.naturalHeight,
      src: i.src,
      facts: Object.fromEntries(facts),
      shown: i.getBoundingClientRect().width,
    };
  });
  check(
    'remark: a 58×40 mm label at 203 dpi',
    label.w === 464 && label.h === 320,
    label.w + 'x' + label.h,
  );
  check('remark: shown large enough to check', label.shown >= 260, label.shown);
  check(
    'remark: the operator was told',
    label.facts['Честный ЗНАК'] === 'уведомлён о замене',
    label.facts,
  );
  check(
    'remark: it replaces the return',
    (label.facts['Заменяет'] || '').startsWith('возврат без кода'),
    label.facts,
  );
  check('remark: nothing waits any more', await waitLines(page, '#pending', 0));
  out.label_png = label.src.replace(/^data:image\/png;base64,/, '');
  out.new_code = await page.evaluate(() => document.getElementById('label-code').dataset.code);
  /* What the manager reads: the text with each GS mark (a .gs element, not
   * the letters "GS", which a code may hold) read back as 0x1D. */
  const shownCode = await page.evaluate(() =>
    [...document.getElementById('label-code').childNodes]
      .map((n) => (n.nodeType === Node.TEXT_NODE ? n.textContent : '\u001d'))
      .join(''),
  );
  check('remark: the new code shown whole', shownCode === out.new_code, [shownCode, out.new_code]);
  check('remark: done, in words', await visible(page, '#remark-done'));
  await shot(page, 'manager-remark.png');
  await noSideScroll(page, 'manager, remark');

  /* Goods acceptance: two codes on the document, one scanned. */
  await page.locator('#tab-accept').tap();
  await page.locator('#accept-doc').fill(sc.accept_list.join('\n'));
  await page.locator('#accept-scan').focus();
  await typeScan(page, sc.accept_list[0]);
  check('accept: one scanned', (await text(page, '#accept-scanned-count')) === 'Отсканировано: 1');
  await page.locator('#accept-compare').tap();
  check('accept: the report', await visible(page, '#accept-report'));
  await page.waitForFunction(
    () => document.querySelectorAll('#accept-missing li').length === 1,
    null,
    { timeout: TIMEOUT },
  );
  check(
    'accept: the missing code named',
    (await text(page, '#accept-missing')).includes(sc.accept_list[1].split(GS)[0]),
  );
  check('accept: nothing extra', (await lineCount(page, '#accept-extra')) === 0);
  await shot(page, 'manager-accept-compare.png');
  await page.locator('#accept-part').tap();
  await page.waitForFunction(
    () => /частично/.test(document.getElementById('accept-message').textContent),
    null,
    { timeout: TIMEOUT },
  );
  const counts = await text(page, '#accept-counts');
  check('accept: part accepted', /1 принято/.test(counts), counts);
  await shot(page, 'manager-accept.png');
  await noSideScroll(page, 'manager, acceptance');

  await office(page);

  await page.locator('#lock').tap();
  check('lock: the PIN is asked again', await visible(page, '#pin'));
}

/* ---- what the cashier reads about deadlines and answers (issue 23) ------- */

/* The remote shop at 49 h: the batch warning with the true time left, and
 * a 4-character tail the operator answered for. */
async function warning(page) {
  await page.goto(`${sc.remote49}/#token=${encodeURIComponent(sc.token)}`);
  check('49 h: the deadline strip', await visible(page, '#deadlines li'));
  const strip = await text(page, '#deadlines');
  check(
    '49 h: the true time left (23 hours), not "72 hours"',
    strip.includes('через 23 часа продажа маркированных товаров будет остановлена') &&
      !strip.includes('72 час'),
    strip,
  );
  check('49 h: what to do', strip.includes('Выгрузите пакет (kassa batch export --out FILE).'), strip);
  check(
    '49 h: the chip counts the same hours',
    (await text(page, '#chips')).includes('осталось 23 ч'),
    await text(page, '#chips'),
  );
  await page.waitForFunction(() => document.activeElement.id === 'scan', null, {
    timeout: TIMEOUT,
  });
  await typeScan(page, sc.water_code);
  check('4-char tail: one line', await waitLines(page, '#lines', 1));
  const line = await page.evaluate(() => ({
    mark: document.querySelector('#lines > li .mark').textContent,
    decision: document.querySelector('#lines > li .decision').textContent,
    tail: (document.querySelector('#lines > li .decision-tail') || {}).textContent || '',
    all: document.querySelector('#lines > li').textContent,
  }));
  check('4-char tail: the FN could not check it ([М])', line.mark === '[М]', line);
  check(
    '4-char tail: the operator answered, in words',
    line.decision === 'КМ проверен в Честном ЗНАКЕ',
    line,
  );
  check(
    "4-char tail: the FN's part apart, in small type",
    line.tail === 'код проверки не по ключу ФН',
    line,
  );
  check('4-char tail: never «без ответа»', !line.all.includes('без ответа'), line);
  await shot(page, 'cashier-48h.png');
  await noSideScroll(page, 'cashier, 49 h');
  await page.locator('#pay-cash').tap();
  /* Cash asks what was handed over; nothing typed is the total exactly. */
  check('49 h: the cash dialog', await visible(page, '#tender'));
  await page.locator('#tender-ok').tap();
  check('49 h: the sale closes', await visible(page, '#closed'));
  await page.locator('#closed-next').tap();
}

/* The remote shop at 73 h: marked sales stopped. The refusal is read
 * whole; a refused first scan leaves an empty receipt, shown and
 * cancellable, that does not block the manager's return. */
async function stopped(page) {
  await page.goto(`${sc.remote73}/#token=${encodeURIComponent(sc.token)}`);
  check('73 h: the deadline strip', await visible(page, '#deadlines li'));
  await page.waitForFunction(() => document.activeElement.id === 'scan', null, {
    timeout: TIMEOUT,
  });
  await typeScan(page, sc.jeans_code);
  check('73 h: the refusal', await visible(page, '#banner'));
  const b = await page.evaluate(() => {
    const box = (id) => {
      const e = document.getElementById(id);
      const r = e.getBoundingClientRect();
      return { text: e.textContent, bottom: r.bottom, clipped: e.scrollHeight > e.clientHeight + 1 };
    };
    return {
      reason: document.getElementById('banner').dataset.reason,
      head: box('banner-message'),
      more: box('banner-more'),
      en: box('banner-en'),
      banner: box('banner'),
      height: window.innerHeight,
    };
  });
  check('73 h: reason delivery_overdue', b.reason === 'delivery_overdue', b.reason);
  check(
    '73 h: the reason large, once',
    b.head.text === 'Продажа маркированных товаров остановлена: сроки передачи данных нарушены.',
    b.head.text,
  );
  check(
    '73 h: the explanation whole, with what to do',
    b.more.text.startsWith('Уведомления о продажах не переданы оператору') &&
      b.more.text.includes('Выгрузите пакет (kassa batch export --out FILE)') &&
      b.more.text.endsWith('(kassa batch upload FILE, kassa ofd flush).') &&
      !b.more.text.includes('остановлена: сроки'),
    b.more.text,
  );
  check(
    '73 h: the English line whole (no broken character)',
    b.en.text.endsWith('(kassa batch upload FILE, kassa ofd flush).') && !b.en.text.includes('\uFFFD'),
    b.en.text,
  );
  check(
    '73 h: nothing clipped, all on the screen',
    !b.head.clipped && !b.more.clipped && !b.en.clipped && b.banner.bottom <= b.height,
    b,
  );
  await page.waitForTimeout(450); /* the shake settles */
  await shot(page, 'cashier-72h.png');
  await noSideScroll(page, 'cashier, 73 h');

  /* The first scan was refused: the receipt it opened is shown, open and
   * empty, and can be cancelled. */
  const shown = async () => ({
    meta: await text(page, '#receipt-meta'),
    cancel: await page.locator('#cancel').isEnabled(),
    lines: await lineCount(page, '#lines'),
  });
  let r = await shown();
  check('refused first scan: the receipt shows open', /открыт \d\d:\d\d/.test(r.meta), r);
  check('refused first scan: «Отменить чек» can be tapped', r.cancel && r.lines === 0, r);
  /* The manager's return is not blocked by it. */
  const api = (method, url, body, pin) =>
    page.evaluate(
      async ([m, u, b, p]) => {
        const h = { Authorization: 'Bearer ' + sessionStorage.getItem('kassa.token') };
        if (b) h['Content-Type'] = 'application/json';
        if (p) h['X-Manager-PIN'] = p;
        const res = await fetch(u, { method: m, headers: h, body: b ? JSON.stringify(b) : undefined });
        return { status: res.status, body: await res.json() };
      },
      [method, url, body, pin],
    );
  const ret = await api('POST', '/api/receipts', { operation: 'return' }, sc.pin);
  check(
    "the manager's return opens over the empty receipt",
    ret.status === 201 && ret.body.receipt.operation === 'return',
    ret,
  );
  const del = await api('DELETE', '/api/receipts/current');
  check('the return cancelled again', del.status === 200, del);
  /* A second refused first scan, cancelled from the screen this time. */
  await typeScan(page, sc.jeans_code);
  check('73 h: refused again', await visible(page, '#banner'));
  r = await shown();
  check('refused first scan again: open and cancellable', r.cancel && /открыт/.test(r.meta), r);
  await page.locator('#cancel').tap();
  await page.locator('#cancel').tap(); /* the second tap within 3 s cancels */
  await page.waitForFunction(
    () => document.getElementById('receipt-meta').textContent === 'не открыт',
    null,
    { timeout: TIMEOUT },
  ).catch(() => {});
  r = await shown();
  check('cancelled from the screen: no receipt open', r.meta === 'не открыт' && !r.cancel, r);
  const after = await api('GET', '/api/receipts/current');
  check('the till agrees: nothing open', after.status === 200 && !after.body.receipt.open, after);
}

/* The manager's screen again, the PIN typed: the «Смена и касса» pane. */
async function officePane(page) {
  await page.goto(`${sc.base}/manager#token=${encodeURIComponent(sc.token)}`);
  await visible(page, '#pin');
  await tapKeys(page, '#pin', sc.pin.split(''));
  await page.locator('#pin-ok').tap();
  await page.waitForSelector('#pin', { state: 'hidden', timeout: TIMEOUT });
  await page.locator('#tab-office').tap();
  check('FN: the pane', await visible(page, '#pane-office'));
}

/* After run.py delivered everything: the FN close from the page. */
async function fnclose(page) {
  await officePane(page);
  await page.locator('#fn-close').tap();
  await page.locator('#fn-close-confirm').tap();
  const r = await officeDone(page);
  check(
    'FN close: done, in words',
    /^✓ ФН закрыт: отчёт о закрытии ФД \d+\. Дождитесь его передачи в ОФД\.$/.test(r.done),
    r,
  );
  await page.waitForFunction(
    () => /закрыт/.test(document.getElementById('facts-fn').textContent),
    null,
    { timeout: TIMEOUT },
  );
  check('FN close: the overview says closed', (await text(page, '#facts-fn')).includes('закрыт'));
}

/* After run.py delivered the close report: the new FN from the page. */
async function fnreplace(page) {
  await officePane(page);
  await page.locator('#fn-new-number').fill('123');
  await page.locator('#fn-replace').tap();
  await page.locator('#office-banner').waitFor({ state: 'visible', timeout: TIMEOUT });
  check(
    'FN replace: a short number refused, naming it',
    (await text(page, '#office-banner-message')).startsWith('fn_number: номер нового ФН: 16 цифр'),
    await text(page, '#office-banner-message'),
  );
  await page.locator('#fn-new-number').fill(sc.new_fn_number);
  await page.locator('#fn-replace').tap();
  await page.waitForFunction(
    () => /заменён/.test(document.getElementById('office-done-text').textContent),
    null,
    { timeout: TIMEOUT },
  );
  check(
    'FN replace: done, naming both FNs and the keys to load',
    (await text(page, '#office-done-text')).startsWith(
      `ФН ${sc.fn_number} заменён на ${sc.new_fn_number} (отчёт о перерегистрации ФД 1)`,
    ) && (await text(page, '#office-done-text')).includes('Загрузите ключи проверки'),
    await text(page, '#office-done-text'),
  );
  await page.waitForFunction(
    (n) => document.getElementById('shift-info').textContent.includes(n),
    sc.new_fn_number,
    { timeout: TIMEOUT },
  );
  check('FN replace: the top bar names the new FN', true);
  await shot(page, 'manager-fn-replaced.png');
  await noSideScroll(page, 'manager, FN replaced');
}

const PHASES = { cashier, manager, fnclose, fnreplace, warning, stopped };

(async () => {
  if (!PHASES[PHASE]) throw new Error('usage: pages.js SCENARIO cashier|manager|fnclose|fnreplace|warning|stopped');
  const browser = await chromium.launch({ executablePath: sc.chromium, headless: true });
  try {
    const context = await browser.newContext({
      viewport: { width: 1024, height: 768 },
      deviceScaleFactor: 1,
      hasTouch: true,
      locale: 'ru-RU',
      timezoneId: 'Europe/Moscow',
    });
    context.setDefaultTimeout(TIMEOUT);
    recorder.watch(context);
    const page = await context.newPage();
    page.on('console', (m) => {
      /* A refused request is logged by chromium itself; that is the API
       * answering, not the page failing. */
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text()))
        consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    try {
      await PHASES[PHASE](page);
    } catch (e) {
      check(`${PHASE} screen ran through`, false, String(e.stack || e));
      await shot(page, `${PHASE}-failure.png`).catch(() => {});
    }
    check('no console errors', consoleErrors.length === 0, consoleErrors);
    await recorder.flush();
  } finally {
    await browser.close();
  }
  if (PHASE === 'manager') fs.writeFileSync(sc.out, JSON.stringify(out));
  console.log(`pages.js: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.log(`FAIL pages.js ${e.stack || e}`);
  console.log(`pages.js: ${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
