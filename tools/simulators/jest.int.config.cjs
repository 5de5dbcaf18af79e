module.exports = require('../../jest.preset.cjs').jestConfigFor(__dirname, 'int');
