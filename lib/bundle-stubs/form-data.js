// Multipart bodies: the controller client sends form-encoded and JSON bodies only.
'use strict';
module.exports = require('./unused')('form-data');
