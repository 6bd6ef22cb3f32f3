'use strict'
// The native addon, through the loader napi-rs generates (../index.js).
module.exports = require('../index.js')
