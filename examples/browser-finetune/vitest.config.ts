import { packageConfig } from '../../vitest.shared';

// Training in SwiftShader takes most of a minute on a 2-core machine, far more when the cores are
// shared: the page test waits on the page's state and sets its own timeouts off (0).
export default packageConfig({ testTimeout: 120_000 });
