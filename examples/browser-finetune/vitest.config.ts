import { packageConfig } from '../../vitest.shared';

// The demo in SwiftShader (20 training steps and two rounds of answers) takes minutes on a 2-core
// machine, more when the cores are shared: the page test waits on the page's state and sets its
// own timeouts off (0).
export default packageConfig({ testTimeout: 120_000 });
