module.exports = require('../jest.preset.cjs').jestConfigFor(__dirname, 'e2e');
