import { addingAColumnScenarios } from './adding-a-column-scenarios';

addingAColumnScenarios('embedded PostgreSQL');
