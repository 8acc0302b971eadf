// Proxies from HTTP(S)_PROXY: the controller client sets `proxy: false`.
'use strict';
module.exports = { getProxyForUrl: require('./unused')('proxy-from-env') };
