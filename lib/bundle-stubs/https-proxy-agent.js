// Proxies: the controller client sets `proxy: false`.
'use strict';
module.exports = require('./unused')('https-proxy-agent');
