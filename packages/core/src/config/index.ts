export { toCamelCase, toSnakeCase } from './case';
export { closestName, editDistance } from './suggest';
export { normalizeKeys, withDefaults, type NormalizeKeysOptions } from './normalize-keys';
export {
  checkNumber,
  checkInteger,
  checkEnum,
  checkBoolean,
  checkString,
  checkStringList,
  describeRange,
  type NumberRange,
} from './checks';
