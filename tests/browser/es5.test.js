'use strict';
// The page's scripts are served as written (no transpiler), so old
// browsers behind old proxies must be able to parse them: ES5 syntax only.
// acorn, a real JavaScript parser, refuses anything newer (arrow functions,
// let/const, classes, template strings...). Also checks that index.html
// carries no inline script or style, which the Content-Security-Policy
// would block.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const acorn = require('acorn');
const { REPO } = require('./harness');

const www = path.join(REPO, 'www');
const scripts = fs.readdirSync(path.join(www, 'js')).filter((f) => f.endsWith('.js'));

test('there are scripts to check', () => {
  assert.ok(scripts.length >= 4, `found ${scripts}`);
});

for (const file of scripts) {
  test(`www/js/${file} parses as ES5`, () => {
    const source = fs.readFileSync(path.join(www, 'js', file), 'utf8');
    assert.doesNotThrow(() => acorn.parse(source, { ecmaVersion: 5, sourceType: 'script' }),
      (err) => `${file}: ${err.message}`);
  });
}

test('index.html loads every script, none of them inline, and no inline style', () => {
  const html = fs.readFileSync(path.join(www, 'index.html'), 'utf8');
  const tags = html.match(/<script\b[^>]*>[\s\S]*?<\/script>/g) || [];
  for (const tag of tags) {
    assert.match(tag, /^<script src="\/js\/[a-z]+\.js" defer><\/script>$/, `inline or odd script: ${tag}`);
  }
  const loaded = tags.map((t) => t.match(/\/js\/([a-z]+\.js)/)[1]).sort();
  assert.deepEqual(loaded, [...scripts].sort());
  assert.doesNotMatch(html, /\sstyle=|<style|\son[a-z]+=/i);
});
