// Redirects: the controller client sets `maxRedirects: 0` (a redirect is an answer, not followed).
'use strict';
const unused = require('./unused')('follow-redirects');
module.exports = { http: { request: unused }, https: { request: unused } };
