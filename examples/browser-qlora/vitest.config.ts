import { packageConfig } from '../../vitest.shared';

// Training in SwiftShader, then again in Node on lavapipe: minutes on a loaded 2-core machine.
export default packageConfig({ testTimeout: 900_000 });
